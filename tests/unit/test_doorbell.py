"""The SQLite doorbell: a ring reaches each listening worker, and never fails the ringer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from service.leads.doorbell import Doorbell
from tests.servers import wait_until


def _listening(bell: Doorbell) -> tuple[threading.Event, threading.Event, threading.Thread]:
    rung, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=bell.listen, args=(rung.set, stop), daemon=True)
    thread.start()
    wait_until(lambda: bell.directory.is_dir() and any(bell.directory.iterdir()), 5, "listener")
    return rung, stop, thread


def test_a_ring_wakes_a_listener_and_stopping_removes_its_socket(tmp_path: Path) -> None:
    listener = Doorbell(tmp_path / "callgate.db")
    rung, stop, thread = _listening(listener)
    ringer = Doorbell(tmp_path / "callgate.db")  # another process's view of the same database
    ringer.ring()
    assert rung.wait(5)
    stop.set()
    thread.join(5)
    assert list(listener.directory.iterdir()) == []
    ringer.close()
    listener.close()


def test_ringing_with_nobody_listening_is_harmless(tmp_path: Path) -> None:
    bell = Doorbell(tmp_path / "callgate.db")
    bell.ring()  # no directory at all
    bell.directory.mkdir()
    bell.ring()
    bell.close()


def test_a_dead_workers_socket_is_skipped_and_cleared_by_the_next_worker(tmp_path: Path) -> None:
    bell = Doorbell(tmp_path / "callgate.db")
    bell.directory.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    stale = bell.directory / f"{dead}-0badcafe"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as gone:
        gone.bind(str(stale))  # bound, then closed without unlinking: a SIGKILLed worker
    bell.ring()  # refused: skipped, and left alone (the ringer cannot tell a new owner)
    assert stale.exists()
    rung, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=bell.listen, args=(rung.set, stop), daemon=True)
    thread.start()
    # A starting worker clears away the dead one's socket, then binds its own.
    wait_until(
        lambda: [p.name.split("-")[0] for p in bell.directory.iterdir()] == [str(os.getpid())],
        5,
        "the new worker's socket alone",
    )
    time.sleep(1.1)  # the ringer's listing of sockets is a second old at most
    bell.ring()
    assert rung.wait(5)
    stop.set()
    thread.join(5)
    bell.close()


def test_a_live_workers_socket_is_never_removed_by_a_ringer(tmp_path: Path) -> None:
    first = Doorbell(tmp_path / "callgate.db")
    rung, stop, thread = _listening(first)
    [path] = list(first.directory.iterdir())
    assert path.name.startswith(f"{os.getpid()}-")
    ringer = Doorbell(tmp_path / "callgate.db")
    for _ in range(3):
        ringer.ring()
    assert rung.wait(5) and path.exists()
    stop.set()
    thread.join(5)
    ringer.close()
    first.close()


def test_a_full_inbox_does_not_block_the_ringer(tmp_path: Path) -> None:
    bell = Doorbell(tmp_path / "callgate.db")
    bell.directory.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as idle:
        idle.bind(str(bell.directory / "1"))  # listening, but never reading
        for _ in range(10_000):
            bell.ring()  # would hang here if a send could block
    bell.close()
