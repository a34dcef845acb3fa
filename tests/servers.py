"""Real processes for integration tests: callgate under gunicorn, PostgreSQL, Redis.

Each starts on a free loopback port, waits until it answers, and is stopped by the caller
(fixtures do it). Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def stop_group(process: subprocess.Popen[bytes] | None, grace: float = 20) -> None:
    """SIGTERM a server started in its own session, SIGKILL it after ``grace`` seconds."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: object, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:  # noqa: S110 - not up yet
            pass
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


@dataclass
class Service:
    """``callgate serve`` (gunicorn) as the README starts it, with its own environment."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    command: tuple[str, ...] = ("callgate", "serve")
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Service:
        env = {
            "PATH": f"{BIN}:/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/tmp"),
            "CALLGATE_BIND": f"127.0.0.1:{self.port}",
            **self.env,
        }
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(BIN / self.command[0]), *self.command[1:]],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: requests.get(f"{self.url}/healthz", timeout=1).ok,
            timeout,
            f"callgate on {self.url} (log: {self.log_path})",
        )
        return self

    def stop(self) -> None:
        stop_group(self.process)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Worker:
    """``callgate worker`` with its own environment."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    # Run under another command, e.g. ("unshare", "--pid", "--fork") for a PID namespace.
    prefix: tuple[str, ...] = ()

    def start(self) -> Worker:
        env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), **self.env}
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*self.prefix, str(BIN / "callgate"), "worker"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def stop(self) -> None:
        stop_group(self.process, grace=25)
        self._log.close()


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise RuntimeError(f"{name} not found: install Debian's postgresql (make test does)")
    return found


class Postgres:
    """A throw-away PostgreSQL cluster on loopback (run as user postgres when we are root)."""

    def __init__(self) -> None:
        # Not under pytest's tmp dirs: those are private to root, and the server runs as
        # the postgres user when we are root.
        self.dir = Path(tempfile.mkdtemp(prefix="callgate-pg-"))
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://callgate@127.0.0.1:{self.port}/callgate"

    def start(self) -> Postgres:
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        if not data.exists():
            self._run(
                _pg_bin("initdb"),
                "-D",
                str(data),
                "-U",
                "callgate",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            )
        self._ctl("start")
        wait_until(lambda: self._ready(), 30, "PostgreSQL")
        self._run(
            _pg_bin("createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "callgate",
            "callgate",
            check=False,
        )
        return self

    def _ctl(self, action: str) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.dir / "data"),
            "-l",
            str(self.dir / "log"),
            "-o",
            options,
            "-w",
            action,
        )

    def _ready(self) -> bool:
        result = self._run(
            _pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), check=False
        )
        return result.returncode == 0

    def restart(self) -> None:
        self._ctl("restart")
        wait_until(lambda: self._ready(), 30, "PostgreSQL")

    def stop(self) -> None:
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.dir / "data"),
            "-m",
            "immediate",
            "-w",
            "stop",
            check=False,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self, base: Path) -> None:
        self.port = free_port()
        self.dir = base / "redis"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        server = shutil.which("redis-server")
        if not server:
            raise RuntimeError("redis-server not found: install Debian's redis-server")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        wait_until(lambda: redis.Redis.from_url(self.url).ping(), 15, "Redis")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
