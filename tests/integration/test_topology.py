"""The topology of ``deploy/compose.yaml``, as processes: one PostgreSQL, one Redis, migrations
run once, two web instances (``callgate serve``) and two ``callgate worker``s.

Each web instance shares its metrics directory with one worker, as the compose file pairs them
(a volume each); so the two ``/metrics`` together count every lead and every call.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis
import requests
from sqlalchemy import create_engine, text

from tests.api.test_metrics import Samples, parse, value
from tests.fakes.provider import FakeProvider
from tests.integration.conftest import RINGOSTAT_ENV
from tests.servers import BIN, ROOT, Redis, Service, Worker, wait_until

URL = "/api/v1/callbacks"
LEADS = 1000
TOKEN = "topology-metrics-token-0123456789"
# One number asked for from both instances: its limit (2 an hour) is one budget in Redis.
SHARED = "+380501234567"


def _env(database: str, redis_url: str, fake: FakeProvider, secrets: Path) -> dict[str, str]:
    token = secrets / "metrics_token"
    token.write_text(TOKEN)
    return {
        **RINGOSTAT_ENV,
        "CALLGATE_RINGOSTAT_API_URL": fake.url,
        "CALLGATE_DATABASE_URL": database,
        "CALLGATE_RATELIMIT_STORAGE_URL": redis_url,
        "CALLGATE_DISPATCHER": "external",
        "CALLGATE_WORKERS": "1",
        "CALLGATE_METRICS_TOKEN_FILE": str(token),
        # 1,000 leads from one test client: lift what would stop them, keep the per-number one.
        "CALLGATE_LIMIT_PER_IP": "100000/minute",
        "CALLGATE_LIMIT_GLOBAL": "100000/minute",
        "CALLGATE_LIMIT_PER_COUNTRY": "100000/minute",
        "CALLGATE_LIMIT_PER_PHONE": "2/hour",
        "CALLGATE_MAX_NUMBERS_PER_IP": "0",
        "CALLGATE_DEDUPE_WINDOW": "0",
        "CALLGATE_DAILY_CALL_BUDGET": "0",
        "CALLGATE_LOG_LEVEL": "WARNING",
    }


def _migrate(env: dict[str, str]) -> None:
    """The compose file's one-shot ``migrate`` service."""
    subprocess.run(
        [str(BIN / "callgate"), "db", "upgrade"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        check=True,
        capture_output=True,
        timeout=60,
    )


_local = threading.local()


def _post(service: Service, phone: str) -> requests.Response:
    # A keep-alive session per client thread: 1,000 posts, not 1,000 TCP handshakes.
    session = getattr(_local, "session", None) or requests.Session()
    _local.session = session
    return session.post(service.url + URL, json={"phone": phone}, timeout=30)


def _scrape(service: Service) -> Samples:
    response = requests.get(
        service.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert response.status_code == 200
    return parse(response.text)


def _total(scrapes: list[Samples], name: str, **labels: str) -> float:
    return sum(value(samples, name, **labels) for samples in scrapes)


def test_two_instances_two_workers_one_database_one_redis(
    tmp_path: Path,
    pg_database: str,
    redis_server: Redis,
    fake_ringostat: FakeProvider,
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
) -> None:
    redis.Redis.from_url(redis_server.url).flushdb()
    env = _env(pg_database, redis_server.url, fake_ringostat, tmp_path)
    _migrate(env)
    instances = []
    for name in ("a", "b"):
        paired = {**env, "CALLGATE_METRICS_DIR": str(tmp_path / f"metrics-{name}")}
        instances.append(start_service(paired, name=f"web-{name}"))
        start_worker(paired, name=f"worker-{name}")
    a, b = instances

    # The shared per-number limit: two leads through a and b, the third refused by a.
    assert _post(a, SHARED).status_code == 202
    assert _post(b, SHARED).status_code == 202
    refused = _post(a, SHARED)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"

    numbers = [f"+38067{n:07d}" for n in range(1, LEADS + 1)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: _post(instances[n % 2], numbers[n]), range(LEADS)))
    assert [r.status_code for r in answers].count(202) == LEADS
    leads = LEADS + 2

    engine = create_engine(pg_database)

    def stored() -> list[tuple[str, int, bool, int]]:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT status, attempt_count, confirmed, count(*) FROM leads GROUP BY 1, 2, 3"
                )
            ).all()
        return [(row[0], row[1], row[2], row[3]) for row in rows]

    try:
        try:
            wait_until(lambda: len(fake_ringostat.received) >= leads, 90, "every lead placed")
        except TimeoutError:
            got = len(fake_ringostat.received)
            raise AssertionError(f"{got} of {leads} calls placed; leads: {stored()}") from None
        # Exactly once: each number once, the shared number once per accepted lead.
        assert len(fake_ringostat.received) == leads
        assert fake_ringostat.accepted[SHARED.lstrip("+")] == 2
        assert all(fake_ringostat.accepted[n.lstrip("+")] == 1 for n in numbers)
        # A worker writes the outcome once the provider's answer is back.
        wait_until(lambda: stored() == [("placed", 1, True, leads)], 15, "every outcome written")
    finally:
        engine.dispose()

    # Each instance counts what it accepted and what its worker placed; together, everything.
    def settled() -> bool:
        scrapes = [_scrape(a), _scrape(b)]
        return _total(scrapes, "callgate_speed_to_lead_seconds_count", provider="ringostat") == (
            leads
        )

    wait_until(settled, 15, "the workers' last outcomes recorded")
    scrapes = [_scrape(a), _scrape(b)]
    received = sum(fake_ringostat.accepted.values())
    assert _total(scrapes, "callgate_leads_accepted_total", status="queued") == leads
    assert (
        _total(scrapes, "callgate_call_outcomes_total", provider="ringostat", outcome="placed")
        == received
    )
    assert _total(scrapes, "callgate_leads_refused_total", code="rate_limited") == 1
    for samples in scrapes:
        # Both instances took leads and both workers placed calls.
        assert value(samples, "callgate_leads_accepted_total", status="queued") >= LEADS // 2
        assert value(
            samples, "callgate_call_outcomes_total", provider="ringostat", outcome="placed"
        )
        # The queue is one database: every instance sees it empty.
        assert value(samples, "callgate_tasks", kind="place_call", state="due") == 0
        assert value(samples, "callgate_ratelimit_storage_degraded") == 0
