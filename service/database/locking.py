"""One writer at a time on a SQLite database, handed over without SQLite's sleeping.

SQLite has one write lock per database. A connection that finds it taken retries in growing
sleeps (1, 2, 5, 10 … 100 ms), so under load the lock sits free while writers sleep: two web
processes and a dispatcher turn a 0.3 ms insert into tens of milliseconds. Our writers queue on
a lock of their own first, which wakes the next waiter the moment it is released: a thread lock
within a process, then ``flock`` on a file beside the database across processes (the web
workers, ``callgate worker``, the CLI). SQLite's own lock is then only ever free when we ask.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType


class WriteLock:
    def __init__(self, database: Path | None) -> None:
        self._thread_lock = threading.Lock()
        # An in-memory database lives in one process: the thread lock is all it needs.
        self._path = None if database is None else database.with_name(database.name + ".lock")
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        # A descriptor inherited across fork() shares its flock with the parent: open our own.
        if self._fd is None or self._pid != os.getpid():
            assert self._path is not None
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    def close(self) -> None:
        with self._thread_lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriteLock:
        self._thread_lock.acquire()
        if self._path is not None:
            try:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._path is not None and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()
