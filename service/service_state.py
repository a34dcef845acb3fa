"""Facts every process must see, kept in the database's ``service_state`` table.

- the provider's configuration fault (HTTP 401/403 seen by any dispatcher), shown by every web
  process's ``/readyz`` until a call is placed and confirmed;
- paced slots (:meth:`ServiceState.reserve_slot`: a chat channel's next message);
- the day the budget alert last went out (once a day, in the held lead's transaction).

Writes share the lead store's write lock and group commit; a fault's alert is enqueued in the
same transaction as the fault.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement

from .database.batching import GroupWriter
from .leads.model import ServiceState as ServiceStateRow
from .leads.model import utcnow
from .tasks.queue import NewTask, Outbox
from .tasks.store import TaskStore

PROVIDER_FAULT = "provider_fault"
BUDGET_ALERTED = "budget_alerted"  # key: the day the budget alert went out
BUDGET_REASON = "new leads are held until `callgate leads release`"
# A success clears the fault at most this often per process (a write per call would cost
# every call a statement), and at once after this process saw a fault itself.
FAULT_CLEAR_EVERY = 1.0  # seconds

STATE: Table = ServiceStateRow.__table__  # type: ignore[assignment]
_VALUE = select(STATE.c.value).where(STATE.c.key == bindparam("key"))
_ROW = select(STATE.c.value, STATE.c.updated_at).where(STATE.c.key == bindparam("key"))
_CLEAR = delete(STATE).where(STATE.c.key == PROVIDER_FAULT)


class ServiceState:
    """The ``service_state`` table's reads and writes (``LeadStore.state``)."""

    def __init__(
        self,
        engine: Engine,
        writer: GroupWriter,
        transaction: Callable[[], AbstractContextManager[Connection]],
        tasks: TaskStore,
        outbox: Callable[[], Outbox | None],
    ) -> None:
        self.engine = engine
        self._writer = writer
        self._transaction = transaction
        self._tasks = tasks
        self._outbox = outbox  # read when used: the store's outbox may be swapped at run time
        self._upsert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert
        self._fault_cleared = -FAULT_CLEAR_EVERY

    def provider_fault(self) -> str | None:
        """The configuration fault a dispatcher last saw at the provider, until a call
        succeeds (any process's)."""
        with self.engine.connect() as conn:
            found: str | None = conn.execute(_VALUE, {"key": PROVIDER_FAULT}).scalar()
        return found

    def set_provider_fault(self, message: str) -> None:
        """Record a provider configuration fault for every process's /readyz (an upsert:
        many workers may see the same 401 at once); a new fault also alerts people."""
        now = utcnow()
        self._fault_cleared = -FAULT_CLEAR_EVERY  # the next success here clears it
        outbox = self._outbox()
        with self._transaction() as conn:
            known = conn.execute(_VALUE, {"key": PROVIDER_FAULT}).scalar()
            conn.execute(self._set(), {"key": PROVIDER_FAULT, "value": message, "updated_at": now})
            alerts = outbox.service(PROVIDER_FAULT, message) if outbox else []
            due_now = known != message and self._tasks.add(conn, alerts, now)
        if due_now:
            self._tasks.wake()

    def fault_check_due(self) -> bool:
        """Whether a successful call should clear the provider fault now (see
        ``FAULT_CLEAR_EVERY``): another process's fault is cleared by the first success here a
        second or more after this process last cleared it."""
        return time.monotonic() - self._fault_cleared >= FAULT_CLEAR_EVERY

    def clear_fault(self, conn: Connection) -> None:
        """In a successful call's transaction: the fault is over."""
        conn.execute(_CLEAR)

    def fault_cleared(self) -> None:
        """The clear was committed (counted from a clear written, not one refused)."""
        self._fault_cleared = time.monotonic()

    def reserve_slot(self, key: str, interval: timedelta) -> datetime | None:
        """Take the slot ``key`` (e.g. a channel's next message) if it was last taken at least
        ``interval`` ago: None when taken now, else when it frees. Atomic across processes
        (one conditional upsert)."""
        now = utcnow()
        statement = self._set(STATE.c.updated_at <= bindparam("cutoff"))
        row = {"key": key, "value": "taken", "updated_at": now, "cutoff": now - interval}

        def write(conn: Connection) -> datetime | None:
            if conn.execute(statement, row).first() is not None:
                return None
            last: datetime = conn.execute(_ROW, {"key": key}).one().updated_at
            return last + interval

        return self._writer.run(write)

    def budget_alert(self, conn: Connection, now: datetime) -> list[NewTask]:
        """The ``budget`` alert, once a day: for the first lead held (in its transaction)."""
        outbox = self._outbox()
        alerts = outbox.service("budget", BUDGET_REASON) if outbox else []
        if not alerts:
            return []
        today = now.date().isoformat()
        row = {"key": BUDGET_ALERTED, "value": today, "updated_at": now}
        return alerts if conn.execute(self._set(STATE.c.value != today), row).first() else []

    def _set(self, only_if: ColumnElement[bool] | None = None) -> Any:
        """Set a key; with ``only_if``, an existing row is changed only when it holds, and the
        statement returns a row only if it wrote (a conditional upsert)."""
        upsert = self._upsert(STATE)
        statement = upsert.on_conflict_do_update(
            index_elements=[STATE.c.key],
            set_={"value": upsert.excluded.value, "updated_at": upsert.excluded.updated_at},
            where=only_if,
        )
        return statement if only_if is None else statement.returning(STATE.c.key)
