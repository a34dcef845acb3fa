"""The SQLite doorbell: a ring reaches each listening worker, and never fails the ringer."""

from __future__ import annotations

import socket
import threading
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


def test_a_dead_workers_socket_is_cleared_away(tmp_path: Path) -> None:
    bell = Doorbell(tmp_path / "callgate.db")
    bell.directory.mkdir()
    stale = bell.directory / "99999"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as gone:
        gone.bind(str(stale))  # bound, then closed without unlinking: a SIGKILLed worker
    bell.ring()
    assert not stale.exists()
    bell.close()


def test_a_full_inbox_does_not_block_the_ringer(tmp_path: Path) -> None:
    bell = Doorbell(tmp_path / "callgate.db")
    bell.directory.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as idle:
        idle.bind(str(bell.directory / "1"))  # listening, but never reading
        for _ in range(10_000):
            bell.ring()  # would hang here if a send could block
    bell.close()
