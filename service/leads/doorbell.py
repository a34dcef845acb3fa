"""Wakes the ``callgate worker`` processes on this machine the moment a lead is stored (SQLite).

PostgreSQL has LISTEN/NOTIFY. SQLite has nothing of the kind, but a SQLite database is a local
file, so everything that writes it runs on this machine: each listening worker binds a Unix
datagram socket in a directory beside the database, and a process that stores a lead sends a
one-byte datagram to each. A ring never blocks and never fails a request: a full socket
already has a wake-up pending, a dead one is skipped (a starting worker clears away those of
workers that died), and the poll (``CALLGATE_DISPATCH_POLL``) still finds every lead if a ring
is lost.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("callgate.leads")

# sockaddr_un holds 108 bytes with the final NUL.
_MAX_SOCKET_PATH = 107
_RELIST_EVERY = 1.0


class Doorbell:
    def __init__(self, database: Path) -> None:
        self.directory = database.with_name(database.name + ".wake")
        self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sender.setblocking(False)
        self._listeners: list[str] = []
        self._listed_at = -_RELIST_EVERY
        self._lock = threading.Lock()

    def ring(self) -> None:
        """Tell every listening worker that a lead is due; best effort, never raises."""
        for path in self._current_listeners():
            try:
                self._sender.sendto(b"!", path)
            except BlockingIOError:
                pass  # its queue is full: it has wake-ups pending already
            except OSError as exc:
                if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                    # Gone, or a dead worker's: stop ringing it until the next listing. Never
                    # unlink here: a new worker may have just bound that very path.
                    self._forget(path)
                else:
                    log.debug("doorbell %s: %s", path, exc)

    def listen(self, on_ring: Callable[[], None], stop: threading.Event) -> None:
        """Call ``on_ring`` on each ring until ``stop`` is set (a worker's thread)."""
        # The pid tells whether its owner lives; the random part keeps two workers with one pid
        # (containers sharing the database's volume) apart.
        path = self.directory / f"{os.getpid()}-{secrets.token_hex(4)}"
        if len(os.fsencode(str(path))) > _MAX_SOCKET_PATH:
            log.warning("database path too long for a wake-up socket; new leads wait for the poll")
            return
        self.directory.mkdir(mode=0o700, exist_ok=True)
        _clear_dead(self.directory)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as inbox:
            inbox.bind(str(path))
            inbox.settimeout(0.5)
            try:
                while not stop.is_set():
                    try:
                        inbox.recv(64)
                    except TimeoutError:
                        continue
                    on_ring()
            finally:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        self._sender.close()

    def _current_listeners(self) -> list[str]:
        with self._lock:
            now = time.monotonic()
            if now - self._listed_at >= _RELIST_EVERY:
                try:
                    self._listeners = [str(p) for p in self.directory.iterdir()]
                except OSError:
                    self._listeners = []
                self._listed_at = now
            return list(self._listeners)

    def _forget(self, path: str) -> None:
        with self._lock:
            if path in self._listeners:
                self._listeners.remove(path)


def _clear_dead(directory: Path) -> None:
    """Remove the sockets of workers that died without cleaning up (SIGKILL)."""
    for entry in directory.iterdir():
        pid = entry.name.split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                entry.unlink()
        except PermissionError:
            pass  # alive, another user's
