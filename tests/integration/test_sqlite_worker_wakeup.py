"""SQLite with ``callgate worker``: a stored lead rings the worker's doorbell, no poll needed.

The worker polls only once a minute here, so a lead that reaches the provider within seconds
was woken by the web process that stored it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import requests

from tests.fakes.provider import FakeProvider
from tests.integration.conftest import RINGOSTAT_ENV
from tests.servers import Service, Worker, wait_until

SLOW_POLL = {
    "CALLGATE_DISPATCHER": "external",
    "CALLGATE_DISPATCH_POLL": "60s",
    "CALLGATE_DEDUPE_WINDOW": "0",
    "CALLGATE_MAX_NUMBERS_PER_IP": "0",
    "CALLGATE_LIMIT_PER_IP": "1000/minute",
}


def _env(tmp_path: Path, fake: FakeProvider) -> dict[str, str]:
    return {
        **RINGOSTAT_ENV,
        **SLOW_POLL,
        "CALLGATE_DATABASE_URL": f"sqlite:///{tmp_path}/callgate.db",
        "CALLGATE_RINGOSTAT_API_URL": fake.url,
    }


def _listening(
    tmp_path: Path,
    fake: FakeProvider,
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
) -> tuple[Service, Worker, Path]:
    """The web service and a worker on one SQLite database, once the worker listens."""
    env = _env(tmp_path, fake)
    service = start_service(env)
    worker = start_worker(env)
    doorbells = tmp_path / "callgate.db.wake"
    wait_until(lambda: doorbells.is_dir() and any(doorbells.iterdir()), 30, "worker listening")
    return service, worker, doorbells


def test_a_new_lead_wakes_the_worker_at_once(
    tmp_path: Path,
    fake_ringostat: FakeProvider,
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
) -> None:
    service, _, _ = _listening(tmp_path, fake_ringostat, start_service, start_worker)
    # The web process re-reads who listens at most once a second.
    wait_until(lambda: _post(service, "+380671110001") == 202, 10, "the first lead")
    wait_until(lambda: fake_ringostat.accepted["380671110001"] == 1, 15, "the first call")

    for n in range(2, 6):
        assert _post(service, f"+38067111000{n}") == 202
    wait_until(
        lambda: all(fake_ringostat.accepted[f"38067111000{n}"] == 1 for n in range(2, 6)),
        15,
        "calls placed long before the next poll",
    )


def test_a_stopped_worker_takes_its_doorbell_away(
    tmp_path: Path,
    fake_ringostat: FakeProvider,
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
) -> None:
    _, worker, doorbells = _listening(tmp_path, fake_ringostat, start_service, start_worker)
    worker.stop()
    assert list(doorbells.iterdir()) == []


def _post(service: Service, phone: str) -> int:
    response = requests.post(f"{service.url}/api/v1/callbacks", json={"phone": phone}, timeout=10)
    return response.status_code
