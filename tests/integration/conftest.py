from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.provider import FakeProvider
from tests.servers import Postgres, Redis, Service, Worker

RINGOSTAT_ENV = {
    "CALLGATE_PROVIDER": "ringostat",
    "CALLGATE_RINGOSTAT_AUTH_KEY": "integration-auth-key",
    "CALLGATE_RINGOSTAT_PROJECT_ID": "11111",
    "CALLGATE_RINGOSTAT_CALLEE": "4242",
    "CALLGATE_SECRET_KEY": "integration-secret-key-0123456789",
    "CALLGATE_FORM_TOKEN": "optional",
}


@pytest.fixture
def fake_ringostat() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    yield fake
    fake.stop()


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(env: dict[str, str], name: str = "service") -> Service:
        env = {"CALLGATE_DATABASE_URL": f"sqlite:///{tmp_path}/callgate.db", **env}
        service = Service(env=env, log_path=tmp_path / f"{name}.log").start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(env: dict[str, str], name: str = "worker", prefix: tuple[str, ...] = ()) -> Worker:
        log_path = tmp_path / f"{name}-{len(started)}.log"
        worker = Worker(env=env, log_path=log_path, prefix=prefix).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = Postgres().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    server = Redis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def pg_database(postgres: Postgres) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL server; its SQLAlchemy URL."""
    import uuid

    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    admin = f"postgresql://callgate@127.0.0.1:{postgres.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres.url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
