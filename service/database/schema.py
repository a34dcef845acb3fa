"""The database schema: where it is, where this version needs it, and getting it there once.

A web process checks at start (``create_app``): at head, nothing to do; behind, it migrates
(``CALLGATE_AUTO_MIGRATE``, on by default) or refuses to start with one line naming
``callgate db upgrade``. Migrating is serialised so that several workers and several instances
starting together migrate once: PostgreSQL by an advisory lock held for the migration's
transaction, SQLite by ``flock`` on a file beside the database (in-memory: a thread lock).
A schema at a revision this version does not know was migrated by a newer version: it starts
(migrations add, never remove, what older code reads) and says so.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

# The one parser of SQLite URLs (the engine's), so the lock sits beside the same file.
from .engine import sqlite_file

log = logging.getLogger("callgate.schema")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
UPGRADE_COMMAND = "callgate db upgrade"
# Any fixed number, the same in every process of every version.
_ADVISORY_LOCK = 4177001
_memory_lock = threading.Lock()


class Database(Protocol):
    """What migrating needs of a store (:class:`service.leads.LeadStore`): its engine."""

    engine: Engine
    is_postgres: bool


class SchemaBehind(Exception):
    """The schema is behind this version's and we may not migrate it (auto-migrate off)."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: nothing was ever migrated (a fresh database)
    head: str

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    @property
    def behind(self) -> bool:
        """Behind head, on a revision this version knows (or none at all)."""
        return not self.at_head and (self.current is None or _known(self.current))

    def describe(self) -> str:
        return f"at {self.current or 'no revision (empty)'}, this version needs {self.head}"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision this version ships (read from the migration files once)."""
    revision = _script().get_current_head()
    assert revision is not None, "no migrations"
    return revision


def _known(revision: str) -> bool:
    try:
        return _script().get_revision(revision) is not None
    except CommandError:
        return False


def read_state(connection: Connection) -> SchemaState:
    """One small query: the revision in ``alembic_version``, against head."""
    return SchemaState(MigrationContext.configure(connection).get_current_revision(), head())


def state(engine: Engine) -> SchemaState:
    with engine.connect() as connection:
        return read_state(connection)


@contextmanager
def _migration_lock(store: Database) -> Iterator[None]:
    """SQLite's half of the lock (PostgreSQL's is taken inside the transaction)."""
    if store.is_postgres:
        yield
        return
    database = sqlite_file(store.engine.url)
    if database is None:
        with _memory_lock:
            yield
        return
    fd = os.open(
        database.with_name(database.name + ".migrate.lock"),
        os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
        0o600,
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released on close, or when the process dies
        yield
    finally:
        os.close(fd)


def migrate(store: Database) -> SchemaState:
    """Bring the schema to head (idempotent; safe for concurrent starts); the state before."""
    config = _config()
    with _migration_lock(store), store.engine.begin() as connection:
        if store.is_postgres:
            # Two instances starting together must not both create the tables.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})")
        before = read_state(connection)
        if not before.at_head:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    return before


def ensure(store: Database, auto_migrate: bool) -> None:
    """At start: migrate a schema that is behind, or refuse with :class:`SchemaBehind`.

    A database that does not answer is not a reason to stay down (it may be restarting):
    the process starts, and ``/readyz`` says not ready until the schema is checked.
    """
    try:
        found = state(store.engine)
    except SQLAlchemyError as exc:
        log.error("database unreachable at start (%s): schema not checked", type(exc).__name__)
        return
    if found.at_head:
        return
    if not found.behind:
        log.warning(
            "database schema is %s: a newer version migrated it; starting anyway",
            found.describe(),
        )
        return
    if not auto_migrate:
        raise SchemaBehind(
            f"the database schema is {found.describe()}: run `{UPGRADE_COMMAND}` "
            "(or set CALLGATE_AUTO_MIGRATE=on)"
        )
    before = migrate(store)
    if not before.at_head:  # another process may have done it while we waited
        log.info("database schema migrated from %s to %s", before.current, before.head)


class SchemaCheck:
    """``/readyz``'s schema check: cheap (one small query), and at most once per ``ttl``."""

    def __init__(
        self, engine: Engine, ttl: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._result = "ok"

    def result(self) -> str:
        """``ok``, or why not: behind (naming the command) or unknown (store unreachable)."""
        with self._lock:
            now = self._clock()
            if self._checked_at is None or now - self._checked_at >= self._ttl:
                self._result = self._check()
                self._checked_at = now
            return self._result

    def _check(self) -> str:
        try:
            found = state(self._engine)
        except SQLAlchemyError as exc:
            return f"unknown ({type(exc).__name__})"
        if found.behind:
            return f"behind: {found.describe()}; run `{UPGRADE_COMMAND}`"
        return "ok"
