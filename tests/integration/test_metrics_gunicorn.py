"""``/metrics`` of a real gunicorn (two workers) beside a ``callgate worker`` on one SQLite file:
whichever process answers the scrape, the counts are those of every process, and they match
what the (loopback) provider received.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path

import requests
from prometheus_client.multiprocess import MultiProcessCollector

from tests.api.test_metrics import Samples, parse, value
from tests.fakes.provider import FakeProvider
from tests.integration.conftest import RINGOSTAT_ENV
from tests.servers import Redis, Service, Worker, wait_until

URL = "/api/v1/callbacks"
TOKEN = "integration-metrics-token-0123"
_numbers = count(1)


def _env(tmp_path: Path, fake: FakeProvider, redis: Redis) -> dict[str, str]:
    token_file = tmp_path / "metrics_token"
    token_file.write_text(TOKEN + "\n")
    return {
        **RINGOSTAT_ENV,
        "CALLGATE_RINGOSTAT_API_URL": fake.url,
        "CALLGATE_DATABASE_URL": f"sqlite:///{tmp_path}/callgate.db",
        "CALLGATE_METRICS_DIR": str(tmp_path / "metrics"),
        "CALLGATE_METRICS_TOKEN_FILE": str(token_file),
        # Loopback, where the test runs, is not allowed: only the token opens /metrics.
        "CALLGATE_METRICS_ALLOW": "192.0.2.0/24",
        "CALLGATE_WORKERS": "2",
        # Two web processes keep one set of limits only in a storage they share.
        "CALLGATE_RATELIMIT_STORAGE_URL": redis.url,
        "CALLGATE_DISPATCHER": "external",
        "CALLGATE_DEDUPE_WINDOW": "0",
        "CALLGATE_MAX_NUMBERS_PER_IP": "0",
        "CALLGATE_LIMIT_PER_IP": "100000/minute",
        "CALLGATE_LIMIT_GLOBAL": "100000/minute",
        "CALLGATE_LIMIT_PER_COUNTRY": "100000/minute",
    }


def scrape(service: Service) -> Samples:
    response = requests.get(
        service.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert response.status_code == 200
    return parse(response.text)


def _post(service: Service) -> None:
    response = requests.post(
        service.url + URL, json={"phone": f"+38067{next(_numbers):07d}"}, timeout=10
    )
    assert response.status_code == 202


def _accepted_by_process(launcher: Path) -> dict[str, float]:
    """Leads each web process counted, read from its own file."""
    found = {}
    for path in launcher.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):  # type: ignore[no-untyped-call]
            for sample in metric.samples:
                if sample.name == "callgate_leads_accepted_total":
                    found[path.name] = found.get(path.name, 0.0) + sample.value
    return {name: n for name, n in found.items() if n}


def test_counts_of_every_process_add_up_to_what_the_provider_received(
    tmp_path: Path,
    fake_ringostat: FakeProvider,
    redis_server: Redis,
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
) -> None:
    env = _env(tmp_path, fake_ringostat, redis_server)
    service = start_service(env)
    start_worker(env)
    web = next((tmp_path / "metrics").glob("web-*"))

    posted = 0
    with ThreadPoolExecutor(8) as pool:
        # Concurrent posts until both gunicorn workers have taken some.
        while len(_accepted_by_process(web)) < 2:
            list(pool.map(lambda _: _post(service), range(16)))
            posted += 16
            assert posted <= 320, "one gunicorn worker took every request"
    wait_until(lambda: len(fake_ringostat.received) == posted, 30, "every lead placed")
    received = sum(fake_ringostat.accepted.values())
    assert received == posted

    # The worker writes an outcome once the provider's answer is back, just after it counted.
    wait_until(
        lambda: (
            value(scrape(service), "callgate_speed_to_lead_seconds_count", provider="ringostat")
            == received
        ),
        10,
        "the last outcome recorded",
    )
    # Each scrape may be answered by either gunicorn worker: all say the same.
    for _ in range(4):
        samples = scrape(service)
        assert value(samples, "callgate_leads_accepted_total", status="queued") == posted
        placed = value(
            samples, "callgate_call_outcomes_total", provider="ringostat", outcome="placed"
        )
        assert placed == received
        assert value(samples, "callgate_speed_to_lead_seconds_count", provider="ringostat") == (
            received
        )
        assert value(samples, "callgate_tasks", kind="place_call", state="due") == 0
    # The calls were placed by the worker: its counts are in a directory of its own.
    assert next((tmp_path / "metrics").glob("worker-*")).is_dir()


def test_without_the_token_from_elsewhere_it_is_not_there(
    tmp_path: Path, fake_ringostat: FakeProvider, redis_server: Redis
) -> None:
    # Started the other documented way: gunicorn with the repository's configuration file.
    service = Service(
        env=_env(tmp_path, fake_ringostat, redis_server),
        log_path=tmp_path / "gunicorn.log",
        command=("gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"),
    ).start()
    try:
        _denied_then_opened_by_the_token(service)
        assert next((tmp_path / "metrics").glob("web-*")).is_dir()
    finally:
        service.stop()


def _denied_then_opened_by_the_token(service: Service) -> None:
    for headers in ({}, {"Authorization": "Bearer not-the-token-0123456789"}):
        response = requests.get(service.url + "/metrics", headers=headers, timeout=10)
        assert response.status_code == 404
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert TOKEN not in response.text
    assert TOKEN not in service.log()
    assert scrape(service)  # the token file's content, newline trimmed, opens it
