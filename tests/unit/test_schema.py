"""The schema at start: a fresh or older database is migrated once, or the app refuses to start;
``/readyz`` is 503 while the schema is behind."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from service import create_app
from service.config import SchemaSettings, Settings
from service.database import migrate
from service.database.schema import SchemaBehind, SchemaCheck, head, state
from service.leads import LeadStore
from tests.conftest import SettingsFactory, services
from tests.migrations import alembic_to
from tests.servers import free_port


def _downgrade(store: LeadStore, revision: str) -> None:
    """As an operator restoring an older backup would leave it."""
    alembic_to(store, revision, upgrade=False)


@pytest.fixture
def fresh(make_settings: SettingsFactory) -> Iterator[Callable[..., Flask]]:
    """create_app on a database nobody migrated (conftest's make_app migrates first)."""
    apps: list[Flask] = []

    def make(**overrides: object) -> Flask:
        app = create_app(make_settings(**overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        services(app).dispatcher.stop(timeout=5)
        services(app).store.close()


def test_a_fresh_database_is_migrated_at_start_and_takes_a_lead(
    fresh: Callable[..., Flask],
) -> None:
    app = fresh()
    store = services(app).store
    assert state(store.engine).current == head()
    answer = app.test_client().post("/api/v1/callbacks", json={"phone": "+380671112233"})
    assert answer.status_code == 202
    assert services(app).dispatcher.run_once()
    lead = store.get(answer.get_json()["id"])
    assert lead is not None and lead.status == "placed"
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["schema"] == "ok"


def test_an_older_schema_is_brought_to_head_keeping_its_leads(
    make_app: Callable[..., Flask], make_settings: SettingsFactory
) -> None:
    app = make_app()
    lead_id = app.test_client().post("/api/v1/callbacks", json={"phone": "+380671112233"})
    store = services(app).store
    _downgrade(store, "0004")
    assert state(store.engine).behind
    again = create_app(make_settings())
    try:
        assert state(store.engine).current == head()
        assert services(again).store.get(lead_id.get_json()["id"]) is not None
    finally:
        services(again).store.close()


def test_with_auto_migrate_off_a_fresh_database_refuses_to_start(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(schema=SchemaSettings(auto_migrate=False))
    with pytest.raises(SchemaBehind) as refused:
        create_app(settings)
    message = str(refused.value)
    assert "`callgate db upgrade`" in message and head() in message and "\n" not in message
    store = LeadStore(settings.database_url)
    try:
        assert state(store.engine).current is None  # nothing was written
    finally:
        store.close()


def test_auto_migrate_is_on_unless_turned_off() -> None:
    assert Settings.from_env({}).schema.auto_migrate is True
    assert Settings.from_env({"CALLGATE_AUTO_MIGRATE": "off"}).schema.auto_migrate is False


def test_a_schema_from_a_newer_version_starts(
    make_app: Callable[..., Flask], make_settings: SettingsFactory
) -> None:
    app = make_app()
    store = services(app).store
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    settings = make_settings().model_copy(update={"schema": SchemaSettings(auto_migrate=False)})
    newer = create_app(settings)
    try:
        ready = newer.test_client().get("/readyz")
        assert ready.status_code == 200 and ready.get_json()["checks"]["schema"] == "ok"
    finally:
        services(newer).store.close()


def test_readyz_is_503_while_the_schema_is_behind(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    _downgrade(services(app).store, "0004")
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    schema = ready.get_json()["checks"]["schema"]
    assert schema.startswith("behind: at 0004") and "callgate db upgrade" in schema


def test_the_schema_check_is_cached_and_sees_a_migration(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    store = services(app).store
    now = [100.0]
    check = SchemaCheck(store.engine, ttl=10.0, clock=lambda: now[0])
    assert check.result() == "ok"
    _downgrade(store, "0004")
    assert check.result() == "ok"  # cached: one query per ttl, not one per probe
    now[0] += 10
    assert check.result().startswith("behind")
    migrate(store)
    now[0] += 9
    assert check.result().startswith("behind")
    now[0] += 1
    assert check.result() == "ok"


def test_concurrent_migrations_of_one_sqlite_file_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/race.db"
    stores = [LeadStore(url) for _ in range(4)]
    results: list[object] = []
    barrier = threading.Barrier(len(stores))

    def run(store: LeadStore) -> None:
        barrier.wait()
        try:
            results.append(migrate(store).current)
        except Exception as exc:  # the assertion names it
            results.append(exc)

    threads = [threading.Thread(target=run, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        # Exactly one found an empty database; the others waited and found it at head.
        assert Counter(results) == Counter([None, head(), head(), head()]), results
    finally:
        for store in stores:
            store.close()


def test_an_unreachable_database_at_start_is_not_ready_not_down(
    make_settings: SettingsFactory,
) -> None:
    # Nothing listens on this port: PostgreSQL is down (restarting, say) when the app starts.
    url = f"postgresql+psycopg://callgate@127.0.0.1:{free_port()}/callgate"
    app = create_app(make_settings(database_url=url))
    try:
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 503
        checks = ready.get_json()["checks"]
        assert checks["store"] == "unreachable" and checks["schema"].startswith("unknown")
    finally:
        services(app).store.close()
