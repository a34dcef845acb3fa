"""The one claim loop: due tasks of every kind, claimed in batches, run by a pool of threads.

A :class:`TaskRunner` runs inside each web process (``CALLGATE_DISPATCHER=inline``) or in
``callgate worker`` processes (``external``). A kind is a name (:mod:`service.tasks.queue`)
and a handler given to :meth:`TaskRunner.register`. How a due task reaches a claim:

* enqueued by this process: the store wakes the loop at once (:meth:`TaskStore.on_due`);
* by another process on PostgreSQL: ``LISTEN/NOTIFY``;
* by another process on SQLite: every :data:`SQLITE_POLL` seconds the loop asks SQLite
  whether any connection has committed since it last asked (``PRAGMA data_version``, a few
  microseconds), and only then reads when the next task is due (Solid Queue polls SQLite every
  0.1 s). Neither waits for the write lock, and both need nothing but the database file: no
  sockets, no process ids, so workers in other containers sharing the volume are served alike;
* a task due later: the loop sleeps until the earliest due time, at most
  ``CALLGATE_DISPATCH_POLL``, which also paces the reclaim of expired leases.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from .. import metrics
from ..config import Settings
from ..leads import LeadStore
from ..leads.model import utcnow
from ..logs import lead_context
from .queue import ClaimedTask, NewTask

log = logging.getLogger("callgate.tasks")

# A tenth of the 100 ms that speed to lead may take across processes on SQLite: a new lead
# waits 5 ms for the poll on average, 10 ms at worst. An idle worker asks 100 times a second
# whether anything was committed (about 10 microseconds each; the read of the tasks table it
# spares costs 0.2 ms).
SQLITE_POLL = 0.01
Handler = Callable[[ClaimedTask], None]


@dataclass(frozen=True)
class Kind:
    run: Handler
    # At most once: settles a task whose holder died while it was in flight (never rerun).
    lost: Handler | None = None
    # At least once: how often a handler that raises is run, with backoff, before giving up.
    max_attempts: int = 6
    # What giving up on a task whose handler kept raising enqueues with it (a webhook's alert).
    gave_up: Callable[[ClaimedTask, str], list[NewTask]] | None = None


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**(attempt-1)``."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return float(ceiling * (0.5 + rng.random() / 2))


class CommitWatch:
    """Whether another connection, of any process, committed to a SQLite file since the last
    look: ``PRAGMA data_version`` on a connection of its own, used by the claim loop only."""

    def __init__(self, database: Path | None) -> None:
        self._database = database
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None

    def seen_new(self) -> bool:
        if self._database is None:
            return True  # no file to watch (in memory): always look
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self._database, check_same_thread=False)
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            self.close()
            return True  # look the long way round
        new, self._version = version != self._version, version
        return bool(new)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._version = None


class TaskRunner:
    """One claiming thread and a pool of working threads.

    The claimer takes as many due tasks as there are idle workers, in one statement, and hands
    them over: the database sees one claim per batch, not one poll per thread.
    """

    def __init__(self, settings: Settings, store: LeadStore) -> None:
        self.settings = settings
        self.store = store
        self.kinds: dict[str, Kind] = {}
        self.lease = timedelta(seconds=settings.dispatch_lease)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None
        self._idle = threading.Semaphore(settings.dispatch_threads)
        self.rng = random.Random()  # noqa: S311 - jitter, not secrecy
        self._commits = CommitWatch(store.database_file)
        self._claimed_any = False  # whether the last claim took (and so committed) any task
        store.tasks.on_due(self.notify)

    def register(
        self,
        kind: str,
        run: Handler,
        *,
        lost: Handler | None = None,
        max_attempts: int = 6,
        gave_up: Callable[[ClaimedTask, str], list[NewTask]] | None = None,
    ) -> None:
        """Run ``run`` for each task of ``kind``. ``lost``: the kind is at most once (see
        :class:`Kind`); otherwise a handler that raises is retried with backoff, and on the
        last attempt ``gave_up(task, reason)`` names the tasks to enqueue as it is given up
        (``reason`` names the error's type only: its text may quote a URL or a body)."""
        self.kinds[kind] = Kind(run, lost, max_attempts, gave_up)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        self._pool = ThreadPoolExecutor(self.settings.dispatch_threads, "callgate-task")
        self._spawn(self._claim_loop, "callgate-claim")
        if self.store.is_postgres:
            self._spawn(self._listen, "callgate-listen")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop claiming; let running tasks finish (up to ``timeout``), then return."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if not any(thread.is_alive() for thread in self._threads):
            self._commits.close()  # the claim loop's own connection: only once it has ended
        self._threads.clear()
        if self._pool is not None:
            # Tasks already handed over finish; one still waiting for a thread keeps its claim
            # until the lease expires and then goes back to the queue, not started.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def notify(self) -> None:
        """A task fell due: claim now rather than at the next poll."""
        self._wake.set()

    # -- running tasks ------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Claim and run one due task; False when none was due."""
        claimed = self.store.tasks.claim(self.lease)
        if not claimed:
            return False
        self.run(claimed[0])
        return True

    def run(self, task: ClaimedTask) -> None:
        """Run one claimed task by its kind's handler; its log lines carry the task's lead."""
        with lead_context(task.lead_id):
            self._run(task)

    def _run(self, task: ClaimedTask) -> None:
        kind = self.kinds.get(task.kind)
        if kind is None:
            log.error("task %d: no handler for kind %s here", task.id, task.kind)
            self.store.tasks.finish(task, error=f"no handler for {task.kind}", gave_up=True)
            return
        try:
            kind.run(task)
        except Exception as exc:
            log.exception("task %d (%s, lead %s) failed", task.id, task.kind, task.lead_id)
            error = f"{type(exc).__name__}: {exc}"[:500]
            if task.attempts >= kind.max_attempts:
                follow = self._gave_up(kind, task, f"handler error: {type(exc).__name__}")
                self.store.tasks.finish(task, error=error, gave_up=True, enqueue=follow)
                metrics.task_gave_up(task.kind)
                return
            delay = backoff(
                task.attempts, self.settings.retry_base, self.settings.retry_cap, self.rng
            )
            # An in-flight task is not retried: its lease runs out and its kind settles it.
            due = utcnow() + timedelta(seconds=delay)
            self.store.tasks.retry(task, due, error=error)

    def _gave_up(self, kind: Kind, task: ClaimedTask, reason: str) -> list[NewTask]:
        """What the kind enqueues as its task is given up on; nothing if that fails too (the
        task must still be given up, or it would run again at every lease's end)."""
        if kind.gave_up is None:
            return []
        try:
            return kind.gave_up(task, reason)
        except Exception:
            log.exception("task %d (%s): its give-up hook failed", task.id, task.kind)
            return []

    def reclaim_expired(self) -> tuple[int, int]:
        """Leases whose holder died: tasks not yet in flight are due again, those in flight are
        settled by their kind. Returns (requeued, settled)."""
        requeued = self.store.tasks.requeue_expired()
        settled = 0
        for task in self.store.tasks.take_over_expired(self.lease):
            kind = self.kinds.get(task.kind)
            if kind is not None and kind.lost is not None:
                kind.lost(task)
            else:
                self.store.tasks.finish(task, error="holder lost in flight", gave_up=True)
            settled += 1
        if settled:
            log.warning("%d task(s) lost in flight settled, never rerun", settled)
        return requeued, settled

    # -- the loop -----------------------------------------------------------------------------

    def _claim_loop(self) -> None:
        next_reclaim = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_reclaim:
                    self.reclaim_expired()
                    next_reclaim = time.monotonic() + self.settings.dispatch_poll
                self._wake.clear()
                if self._claim_batch():
                    continue  # there may be more due than there were idle threads
                self._idle_wait()
            except Exception:
                log.exception("task loop error; retrying after the poll interval")
                self._stop.wait(self.settings.dispatch_poll)

    def _claim_batch(self) -> bool:
        """Claim up to the number of idle threads; True if that many were claimed (more may
        be due: claim again), False if fewer (a claim is a write: wait for the next wake)."""
        if not self._idle.acquire(timeout=self.settings.dispatch_poll):
            return True  # every thread still busy: wait for one again (tasks may be due)
        idle = 1
        while idle < self.settings.dispatch_threads and self._idle.acquire(blocking=False):
            idle += 1
        claimed: list[ClaimedTask] = []
        try:
            claimed = self.store.tasks.claim(self.lease, limit=idle)
        finally:
            # Threads no task was claimed for are idle again, also when the claim failed.
            for _ in range(idle - len(claimed)):
                self._idle.release()
        self._claimed_any = bool(claimed)
        assert self._pool is not None
        for task in claimed:
            self._pool.submit(self._run_pooled, task)
        return len(claimed) == idle

    def _run_pooled(self, task: ClaimedTask) -> None:
        try:
            self.run(task)
        except Exception:
            log.exception("task %d: not settled; its lease will return it", task.id)
        finally:
            # A claimer short of threads waits on this semaphore. No wake-up otherwise: a
            # claim is a write, and one after every finished task held the write lock for
            # nothing (a task its handler enqueues wakes the loop through the store).
            self._idle.release()

    def _idle_wait(self) -> None:
        """Sleep until woken, a task falls due, or the poll interval passes.

        A task due later that is enqueued meanwhile is seen at the latest after
        ``CALLGATE_DISPATCH_POLL`` on PostgreSQL (NOTIFY is for tasks due now); on SQLite at
        its due time, as the commit that stored it moves the deadline."""
        if self.store.is_postgres or not self._claimed_any:
            deadline = self._deadline()
        else:
            # The claim just committed, so the first poll sees a commit and reads the next due
            # time then: one read of the queue per claim, not one before the poll and one in it.
            deadline = time.monotonic() + self.settings.dispatch_poll
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self.store.is_postgres:
                self._wake.wait(left)
                return
            if self._wake.wait(min(left, SQLITE_POLL)):
                return
            if self._commits.seen_new():
                deadline = min(deadline, self._deadline())  # now, when a task is due

    def _deadline(self) -> float:
        """The monotonic time to look again: the earliest due time, or the poll interval."""
        wait = self.settings.dispatch_poll
        next_due = self.store.tasks.next_due()
        if next_due is not None:
            wait = max(0.0, min(wait, (next_due - utcnow()).total_seconds()))
        return time.monotonic() + wait

    def _listen(self) -> None:
        """Wake on PostgreSQL NOTIFY from any instance; reconnect if the server restarts."""
        import psycopg

        from .queue import NOTIFY_CHANNEL

        url = self.store.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=self.settings.dispatch_poll):
                            self._wake.set()
            except psycopg.Error:
                log.warning("LISTEN connection lost; reconnecting")
                self._stop.wait(1.0)
