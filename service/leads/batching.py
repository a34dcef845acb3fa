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

import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

log = logging.getLogger("callgate.leads")

T = TypeVar("T")
MAX_BATCH = 64


@dataclass
class _Write:
    work: Callable[[Connection], Any]
    isolated: bool
    done: Future[Any] = field(default_factory=Future)


class GroupWriter:
    def __init__(self, engine: Engine, lock: AbstractContextManager[Any]) -> None:
        self._engine = engine
        self._lock = lock
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._start_lock = threading.Lock()

    def run(self, work: Callable[[Connection], T], *, isolated: bool = False) -> T:
        """Run ``work`` in the next batch; return its result once the batch is committed.

        ``isolated``: ``work`` may raise (a constraint), and must not take the batch with it.
        """
        self._ensure_thread()
        write = _Write(work, isolated)
        self._queue.put(write)
        result: T = write.done.result()
        return result

    def close(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(10)
        self._thread = None

    def _ensure_thread(self) -> None:
        # A forked worker inherits the object but not the thread: start one of its own.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._start_lock:
            if self._thread is None or self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._loop, name="callgate-writer", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
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

    def _commit(self, batch: list[_Write]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._lock, self._engine.begin() as conn:
                for write in batch:
                    outcomes.append(_attempt(conn, write))
        except Exception as exc:
            if len(batch) == 1:
                batch[0].done.set_exception(exc)
                return
            log.warning("a batch of %d writes failed (%s); writing each alone", len(batch), exc)
            for write in batch:
                self._commit([write])
            return
        for write, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                write.done.set_result(value)
            else:
                write.done.set_exception(value)


def _attempt(conn: Connection, write: _Write) -> tuple[bool, Any]:
    """(True, result), or (False, the exception) from an isolated write, rolled back alone."""
    if not write.isolated:
        return True, write.work(conn)
    try:
        with conn.begin_nested():
            return True, write.work(conn)
    except Exception as exc:
        return False, exc
