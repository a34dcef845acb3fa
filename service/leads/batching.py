"""Group commit: the hot writes of many threads share one transaction and one sync to disk.

Every accepted lead is synced to disk before the visitor hears 202, and the dispatcher writes
three more times per call (claim, "in flight", outcome). One transaction each means one write
lock hand-over and one fsync each, and under load the lock, not the CPU, sets the pace: the
holder waits for the disk and then for the GIL while everyone else queues. Here one thread per
process takes whatever writes are waiting, runs them in one transaction, commits once, and
only then hands each caller its result, so nothing is reported stored before it is.

A write that may fail on its own (an idempotency key raced by a twin) runs inside a savepoint.
Any other failure rolls the batch back and runs its writes again one transaction each, so a
fault is reported to the write that caused it and the others still commit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

log = logging.getLogger("callgate.leads")

T = TypeVar("T")
MAX_BATCH = 64


class _Write:
    """One caller's write; ``_done`` is held until the writer has its outcome."""

    __slots__ = ("_done", "error", "isolated", "result", "work")

    def __init__(self, work: Callable[[Connection], Any], isolated: bool) -> None:
        self.work = work
        self.isolated = isolated
        self.result: Any = None
        self.error: BaseException | None = None
        # A bare lock is the cheapest hand-over there is (a Future costs a Condition).
        self._done = threading.Lock()
        self._done.acquire()

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self._done.release()

    def wait(self) -> Any:
        self._done.acquire()
        if self.error is not None:
            raise self.error
        return self.result


class GroupWriter:
    def __init__(self, engine: Engine, lock: AbstractContextManager[Any]) -> None:
        self._engine = engine
        self._lock = lock
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._start_lock = threading.Lock()
        # The writer thread's own connection, kept between batches (no pool round trip).
        self._conn: Connection | None = None

    def run(self, work: Callable[[Connection], T], *, isolated: bool = False) -> T:
        """Run ``work`` in the next batch; return its result once the batch is committed.

        ``isolated``: ``work`` may raise (a constraint), and must not take the batch with it.
        """
        if self._pid != os.getpid():
            self._start()
        write = _Write(work, isolated)
        self._queue.put(write)
        result: T = write.wait()
        return result

    def close(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(10)
        self._thread = None
        self._pid = 0

    def _start(self) -> None:
        # A forked worker inherits the object but not the thread: start one of its own.
        with self._start_lock:
            if self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                self._conn = None
                self._thread = threading.Thread(
                    target=self._loop, name="callgate-writer", daemon=True
                )
                self._thread.start()
                self._pid = os.getpid()

    def _loop(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._queue.put(None)  # finish this batch, then stop
                        break
                    batch.append(more)
                self._commit(batch)
        finally:
            self._drop_connection()

    def _commit(self, batch: list[_Write]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            with self._lock:
                conn = self._connection()
                with conn.begin():
                    for write in batch:
                        outcomes.append(_attempt(conn, write))
        except Exception as exc:
            # The connection may be what failed (a database restart): take a fresh one.
            self._drop_connection()
            if len(batch) == 1:
                batch[0].settle(error=exc)
                return
            log.warning("a batch of %d writes failed (%s); writing each alone", len(batch), exc)
            for write in batch:
                self._commit([write])
            return
        for write, (result, error) in zip(batch, outcomes, strict=True):
            write.settle(result, error)

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def _attempt(conn: Connection, write: _Write) -> tuple[Any, BaseException | None]:
    """(result, None), or (None, the exception) from an isolated write, rolled back alone."""
    if not write.isolated:
        return write.work(conn), None
    try:
        with conn.begin_nested():
            return write.work(conn), None
    except Exception as exc:
        return None, exc
