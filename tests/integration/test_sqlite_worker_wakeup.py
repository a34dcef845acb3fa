"""SQLite with ``callgate worker``: a stored lead is found by the worker's short poll.

The long poll (``CALLGATE_DISPATCH_POLL``) is a minute here, so a lead that reaches the
provider within seconds was found by the short read of the task queue (``tasks.SQLITE_POLL``).
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


def sqlite_env(tmp_path: Path, fake: FakeProvider) -> dict[str, str]:
    return {
        **RINGOSTAT_ENV,
        **SLOW_POLL,
        "CALLGATE_DATABASE_URL": f"sqlite:///{tmp_path}/callgate.db",
        "CALLGATE_RINGOSTAT_API_URL": fake.url,
    }


def started(worker: Worker) -> None:
    """Wait until ``worker`` claims (its first claim runs right after this line is logged)."""
    wait_until(lambda: "dispatcher started" in worker.log(), 30, "worker started")


def post(service: Service, phone: str) -> int:
    response = requests.post(f"{service.url}/api/v1/callbacks", json={"phone": phone}, timeout=10)
    return response.status_code


def test_a_new_lead_is_taken_long_before_the_long_poll(
    tmp_path: Path,
    fake_ringostat: FakeProvider,
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
) -> None:
    env = sqlite_env(tmp_path, fake_ringostat)
    service = start_service(env)
    started(start_worker(env))
    for n in range(1, 6):
        assert post(service, f"+38067111000{n}") == 202
    wait_until(
        lambda: all(fake_ringostat.accepted[f"38067111000{n}"] == 1 for n in range(1, 6)),
        15,
        "calls placed long before the next long poll",
    )


def test_workers_leave_nothing_beside_the_database(
    tmp_path: Path,
    fake_ringostat: FakeProvider,
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
) -> None:
    # No sockets, no per-process files: nothing another container could take for dead.
    env = sqlite_env(tmp_path, fake_ringostat)
    start_service(env)
    worker = start_worker(env)
    started(worker)
    worker.stop()
    beside = {p.name for p in tmp_path.iterdir() if p.name.startswith("callgate.db")}
    # The two lock files are flock()ed, never judged by a PID: safe across containers.
    allowed = {"callgate.db", "callgate.db-wal", "callgate.db-shm", "callgate.db.lock"}
    assert beside <= allowed | {"callgate.db.migrate.lock"}
