"""Plain ``gunicorn wsgi:app`` on a database nobody migrated, as a new user starts it.

Run from a directory without ``gunicorn.conf.py`` (so gunicorn reads none, and its
``on_starting`` migration does not run): the app itself brings the schema to head, once,
however many workers and instances start together; or, with ``CALLGATE_AUTO_MIGRATE=off``,
gunicorn stops with one line naming ``callgate db upgrade``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from service.database.schema import head
from tests.servers import BIN, ROOT, free_port, stop_group, wait_until

ENV = {
    "CALLGATE_SECRET_KEY": "integration-secret-key-0123456789",
    "CALLGATE_FORM_TOKEN": "optional",
}


@dataclass
class PlainGunicorn:
    """``gunicorn -w 2 wsgi:app``: no config file, no callgate command."""

    directory: Path
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "gunicorn.log"

    def launch(self) -> PlainGunicorn:
        self.directory.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": f"{BIN}:/usr/bin:/bin",
            "HOME": str(self.directory),  # gunicorn's control socket lives under it
            "PYTHONPATH": str(ROOT),
            "CALLGATE_DATABASE_URL": self.database_url,
            **ENV,
            **self.env,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{self.port}", "wsgi:app"],
                cwd=self.directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self) -> PlainGunicorn:
        wait_until(
            lambda: requests.get(f"{self.url}/readyz", timeout=1).ok,
            60,
            f"gunicorn on {self.url} (log: {self.log_path})",
        )
        return self

    def stop(self) -> None:
        stop_group(self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Callable[..., PlainGunicorn]]:
    started: list[PlainGunicorn] = []

    def make(database_url: str, name: str = "a", **env: str) -> PlainGunicorn:
        server = PlainGunicorn(tmp_path / name, database_url, env).launch()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _placed_by_dry_run(server: PlainGunicorn, phone: str) -> None:
    answer = requests.post(f"{server.url}/api/v1/callbacks", json={"phone": phone}, timeout=10)
    assert answer.status_code == 202, answer.text
    status_url = f"{server.url}/api/v1/callbacks/{answer.json()['id']}"
    wait_until(
        lambda: requests.get(status_url, timeout=5).json()["status"] == "placed",
        30,
        f"lead placed (log: {server.log_path})",
    )


def _migrations(*servers: PlainGunicorn) -> int:
    line = "callgate.schema: database schema migrated"
    return sum(server.log().count(line) for server in servers)


def test_plain_gunicorn_on_a_fresh_sqlite_file(
    tmp_path: Path, gunicorn: Callable[..., PlainGunicorn]
) -> None:
    database = tmp_path / "data" / "fresh.db"
    server = gunicorn(f"sqlite:///{database}").wait_ready()
    _placed_by_dry_run(server, "+380671112233")
    _placed_by_dry_run(server, "+380671112234")
    assert _migrations(server) == 1  # two workers, one migration
    assert "no such table" not in server.log()
    assert requests.get(f"{server.url}/readyz", timeout=5).json()["checks"]["schema"] == "ok"


def test_two_plain_gunicorns_started_together_on_a_fresh_postgres(
    pg_database: str, gunicorn: Callable[..., PlainGunicorn]
) -> None:
    first, second = gunicorn(pg_database, "a"), gunicorn(pg_database, "b")
    first.wait_ready()
    second.wait_ready()
    _placed_by_dry_run(first, "+380671112233")
    _placed_by_dry_run(second, "+380671112234")
    assert _migrations(first, second) == 1  # four workers, one migration
    for server in (first, second):
        assert "Traceback" not in server.log(), server.log()


def test_plain_gunicorn_refuses_a_fresh_database_when_auto_migrate_is_off(
    tmp_path: Path, gunicorn: Callable[..., PlainGunicorn]
) -> None:
    server = gunicorn(f"sqlite:///{tmp_path}/fresh.db", CALLGATE_AUTO_MIGRATE="off")
    assert server.process is not None
    # gunicorn stops: "Worker failed to boot." (3). When its second worker fails too while it
    # is halting, gunicorn's arbiter ends in its own HaltServer traceback and 1 instead.
    assert server.process.wait(90) in (1, 3)
    log = server.log()
    lines = [line for line in log.splitlines() if line.startswith("callgate:")]
    assert lines, log
    assert "`callgate db upgrade`" in lines[0] and head() in lines[0]
    for traceback in log.split("Traceback")[1:]:  # none from our code
        assert "HaltServer" in traceback and "/service/" not in traceback, log
