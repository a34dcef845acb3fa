"""Engines: one per database URL, with the settings each backend wants for this workload.

SQLite: WAL, a full sync on every commit unless a write says it may wait (see
:mod:`.batching`), and ``BEGIN`` emitted by SQLAlchemy (a write transaction asks for
``BEGIN IMMEDIATE`` with the ``sqlite_begin`` execution option).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

# A commit that must survive a power cut before the caller goes on (the default), and one that
# may wait for the next such commit: the WAL is written and synced in order, so a later synced
# commit makes every earlier one durable too. PostgreSQL's asynchronous commit is the same.
SQLITE_SYNCED = "PRAGMA synchronous=FULL"
SQLITE_UNSYNCED = "PRAGMA synchronous=NORMAL"
POSTGRES_UNSYNCED = "SET LOCAL synchronous_commit TO OFF"


def rowcount(result: Any) -> int:
    """The rows a conditional write matched: 1 or 0 tells whether it took effect."""
    return int(result.rowcount)


def sqlite_file(url: str | URL) -> Path | None:
    """The database file of a SQLite URL; None for any other database or one in memory."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


def make_engine(database_url: str) -> Engine:
    """An engine with the settings each backend wants for this workload."""
    if database_url.startswith("sqlite"):
        database = sqlite_file(database_url)
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url, connect_args={"timeout": 30}, pool_size=20, max_overflow=60
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, emit BEGIN (see _sqlite_begin).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            # WAL: readers never block the writer. FULL syncs every commit: an accepted lead
            # survives a power cut, not only a crash of the process.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(SQLITE_SYNCED)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Straight to the driver: this runs for every transaction, and the full statement
            # machinery costs more than the BEGIN itself.
            begin = conn.get_execution_options().get("sqlite_begin", "BEGIN")
            conn.connection.dbapi_connection.execute(begin)  # type: ignore[union-attr]

        return engine
    return create_engine(database_url, pool_pre_ping=True, pool_size=20, max_overflow=60)
