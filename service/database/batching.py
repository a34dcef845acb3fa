"""Group commit: the hot writes of many threads share one transaction and one sync to disk.

Every accepted lead is synced to disk before the visitor hears 202, and the dispatcher writes
three more times per call (claim, "in flight", outcome). One transaction each means one write
lock hand-over and one fsync each, and under load the lock, not the CPU, sets the pace: the
holder waits for the disk and then for the GIL while everyone else queues. Here a caller that
finds no commit under way leads one: it runs its own write and whatever others arrived
meanwhile in one transaction, commits once, hands each caller its result, and goes on while
writes are waiting; a caller that finds a commit under way waits for the leader to take its
write too. Uncontended, a write costs what it always did (no hand-over to another thread);
contended, many share one commit. Nothing is reported stored before its commit.

A write that need not survive a power cut on its own (``durable=False``: a claim, a placed
call's outcome) lets its batch commit without waiting for the disk, unless the batch
holds a write that must. The next synced commit makes it durable with itself: the WAL (SQLite's,
PostgreSQL's) is written and synced in order. Under load the sync, not the statements, is most
of the write lock's time.

A write that may fail on its own (an idempotency key raced by a twin) runs inside a savepoint.
Any other failure rolls the batch back and runs its writes again one transaction each, so a
fault is reported to the write that caused it and the others still commit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from .engine import POSTGRES_UNSYNCED, SQLITE_SYNCED, SQLITE_UNSYNCED

log = logging.getLogger("callgate.leads")

T = TypeVar("T")
MAX_BATCH = 64


class _Write:
    """One caller's write. Its caller sleeps on ``_turn`` until the write is settled, or until
    it is asked to lead the next batches itself (``promoted``)."""

    __slots__ = (
        "_turn",
        "durable",
        "error",
        "first",
        "isolated",
        "promoted",
        "result",
        "settled",
        "work",
    )

    def __init__(
        self, work: Callable[[Connection], Any], isolated: bool, first: int, durable: bool
    ) -> None:
        self.work = work
        self.isolated = isolated
        self.first = first
        self.durable = durable
        self.result: Any = None
        self.error: BaseException | None = None
        self.settled = False
        self.promoted = False
        # A bare lock is the cheapest hand-over there is (a Future costs a Condition).
        self._turn = threading.Lock()
        self._turn.acquire()

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        if not self.settled:
            self.result, self.error, self.settled = result, error, True
            self._turn.release()

    def promote(self) -> None:
        self.promoted = True
        self._turn.release()

    def wait_turn(self) -> None:
        self._turn.acquire()

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupWriter:
    # A leader commits at most this many batches, then hands over to the oldest waiter, so
    # that no one visitor's request carries everybody else's writes for long.
    LEAD_AT_MOST = 2

    def __init__(self, engine: Engine, lock: AbstractContextManager[Any]) -> None:
        self._engine = engine
        self._lock = lock
        self._state = threading.Lock()  # guards _pending and _leading
        self._pending: list[_Write] = []
        self._leading = False
        self._pid = os.getpid()
        # The leaders' connection (only the leader of the moment uses it). SQLite's is kept
        # between batches; a server's goes back to the pool, whose pre-ping notices a restart.
        self._conn: Connection | None = None
        self._sqlite = engine.dialect.name == "sqlite"
        # Whether the kept SQLite connection syncs its commits now (a new one does); None while
        # that is being changed, so that an interrupted change is made again.
        self._synced: bool | None = True

    def run(
        self,
        work: Callable[[Connection], T],
        *,
        isolated: bool = False,
        first: int = 0,
        durable: bool = True,
    ) -> T:
        """Run ``work`` in the next batch; return its result once the batch is committed.

        ``isolated``: ``work`` may raise (a constraint), and must not take the batch with it.
        ``first``: above 0, run before the batch's other writes, lowest first: such a write
        takes a lock (admission 1, bookings 2, alert grouping 3: see service.leads.admission,
        service.leads.booking, service.tasks.grouping) that the others must not be
        holding row locks while waiting for, and every batch takes those locks in one order.
        ``durable``: False when ``work`` may be lost in a power cut until the next synced
        commit, because nothing outside acts on it first (its batch is then not synced unless
        another of its writes must be).
        """
        write = _Write(work, isolated, first, durable)
        with self._state:
            if self._pid != os.getpid():
                self._forked()
            self._pending.append(write)
            lead = not self._leading
            self._leading = True
        while True:
            if lead:
                self._lead()
            write.wait_turn()
            if write.settled:
                result: T = write.outcome()
                return result
            lead = True  # promoted: the previous leader handed the pending writes over

    def close(self) -> None:
        with self._state:
            if not self._leading:
                self._drop_connection()

    def _forked(self) -> None:
        # A child of fork() shares nothing in progress with its parent, not even a connection.
        self._pending, self._leading, self._conn, self._synced = [], False, None, True
        self._pid = os.getpid()

    def _lead(self) -> None:
        """Commit batches while writes wait, then step down or hand over. Both happen under
        ``_state``, so a write that arrives meanwhile is either taken here or finds no
        leader and leads itself: none is left waiting with nobody to commit it."""
        for _ in range(self.LEAD_AT_MOST):
            with self._state:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                # Stable: arrival order otherwise.
                batch.sort(key=lambda write: (write.first == 0, write.first))
                if not batch:
                    self._leading = False
                    return
            try:
                self._commit(batch)
            except BaseException as exc:  # e.g. the process is told to exit mid-commit
                aborted = RuntimeError("the batch was interrupted")
                aborted.__cause__ = exc
                for write in batch:
                    write.settle(error=aborted)
                self._step_down()
                raise
        self._step_down()

    def _step_down(self) -> None:
        with self._state:
            if self._pending:
                self._pending[0].promote()  # still leading: the promoted caller goes on
            else:
                self._leading = False

    def _commit(self, batch: list[_Write]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        in_work = False  # whether the failure came from a write, before any COMMIT was sent
        synced = any(write.durable for write in batch)
        try:
            with self._lock:
                conn = self._connection()
                if self._sqlite and synced != self._synced:
                    # Between transactions: SQLite refuses to change it inside one.
                    raw = conn.connection.dbapi_connection
                    assert raw is not None
                    self._synced = None
                    raw.execute(SQLITE_SYNCED if synced else SQLITE_UNSYNCED)
                    self._synced = synced
                with conn.begin():
                    if not synced and not self._sqlite:
                        conn.exec_driver_sql(POSTGRES_UNSYNCED)
                    for write in batch:
                        in_work = True
                        outcomes.append(_attempt(conn, write))
                        in_work = False
        except Exception as exc:
            # The connection may be what failed (a database restart): take a fresh one.
            self._drop_connection()
            if len(batch) == 1 or not in_work:
                # A failed COMMIT may still have saved the batch: running its writes again
                # could claim other leads or store a lead twice. Every caller hears of it.
                for write in batch:
                    write.settle(error=exc)
                return
            # One write broke the transaction, which was rolled back: each alone, so the fault
            # reaches only the write that caused it.
            log.warning("a batch of %d writes failed (%s); writing each alone", len(batch), exc)
            for write in batch:
                self._commit([write])
            return
        finally:
            if not self._sqlite:
                self._drop_connection()
        for write, (result, error) in zip(batch, outcomes, strict=True):
            write.settle(result, error)

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                if self._synced is True:
                    self._conn.close()
                else:
                    self._conn.invalidate()  # never back to the pool without its syncs
            self._conn = None
            self._synced = True


def _attempt(conn: Connection, write: _Write) -> tuple[Any, BaseException | None]:
    """(result, None), or (None, the exception) from an isolated write, rolled back alone."""
    if not write.isolated:
        return write.work(conn), None
    try:
        with conn.begin_nested():
            return write.work(conn), None
    except Exception as exc:
        return None, exc
