"""Two ``callgate worker`` processes on one SQLite file, one in another PID namespace (as in a
second container sharing the volume): stopping one leaves the other taking new leads promptly.

The long poll is a minute, so a call within seconds shows the worker found the lead itself.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from tests.fakes.provider import FakeProvider
from tests.integration.test_sqlite_worker_wakeup import post, sqlite_env, started
from tests.servers import Service, Worker, wait_until

UNSHARE = ("unshare", "--pid", "--fork", "--kill-child=SIGTERM")


def test_a_worker_in_another_pid_namespace_does_not_disturb_the_first(
    tmp_path: Path,
    fake_ringostat: FakeProvider,
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
) -> None:
    assert shutil.which("unshare"), "util-linux unshare is needed (we run as root)"
    env = sqlite_env(tmp_path, fake_ringostat)
    service = start_service(env)
    first = start_worker(env, name="first")
    started(first)
    second = start_worker(env, name="second", prefix=UNSHARE)
    started(second)
    assert post(service, "+380671110001") == 202
    wait_until(lambda: fake_ringostat.accepted["380671110001"] == 1, 15, "the first lead")

    second.stop()
    for n in range(2, 6):
        assert post(service, f"+38067111000{n}") == 202
    wait_until(
        lambda: all(fake_ringostat.accepted[f"38067111000{n}"] == 1 for n in range(2, 6)),
        15,
        "calls placed by the first worker long before its long poll",
    )
    assert "dispatcher started" in first.log() and first.process is not None
    assert first.process.poll() is None
    assert sum(fake_ringostat.accepted.values()) == 5
