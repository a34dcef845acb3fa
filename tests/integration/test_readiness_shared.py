"""A provider configuration fault seen by a ``callgate worker`` shows on the ``/readyz`` of the
web processes (gunicorn), which never dispatch themselves, until a call succeeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import requests

from tests.fakes.provider import FakeProvider
from tests.integration.test_sqlite_worker_wakeup import post, sqlite_env, started
from tests.servers import Redis, Service, Worker, wait_until


def _ready(service: Service) -> requests.Response:
    return requests.get(f"{service.url}/readyz", timeout=5)


def test_a_401_seen_by_the_worker_shows_on_every_web_process(
    tmp_path: Path,
    fake_ringostat: FakeProvider,
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
    redis_server: Redis,
) -> None:
    # Two web processes need a limit storage they share (Redis) to be allowed to start.
    env = {
        **sqlite_env(tmp_path, fake_ringostat),
        "CALLGATE_WORKERS": "2",
        "CALLGATE_REDIS_URL": redis_server.url,
    }
    service = start_service(env)
    worker = start_worker(env)
    started(worker)
    assert _ready(service).status_code == 200

    fake_ringostat.set(statuses=[401])
    assert post(service, "+380671110001") == 202
    wait_until(lambda: _ready(service).status_code == 503, 15, "/readyz to report the fault")
    # Every web process says so: ask more often than there are gunicorn workers.
    for _ in range(6):
        answer = _ready(service)
        assert answer.status_code == 503
        assert answer.json()["checks"]["provider"].startswith("configuration fault")
        assert "integration-auth-key" not in answer.text

    fake_ringostat.set(statuses=[200])
    assert post(service, "+380671110002") == 202
    wait_until(lambda: _ready(service).status_code == 200, 15, "/readyz to clear")
    assert fake_ringostat.accepted["380671110002"] == 1
