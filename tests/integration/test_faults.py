"""Faults with real processes: gunicorn, `callgate worker`, PostgreSQL, a loopback provider.

In every scenario each accepted lead must end placed, and the provider must have accepted
exactly one call per lead (the fake counts what it acted on, per number), none lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import requests
from sqlalchemy import create_engine, text

from tests.fakes.provider import FakeProvider
from tests.integration.conftest import RINGOSTAT_ENV
from tests.servers import Postgres, Service, Worker, free_port, wait_until

FAST = {
    "CALLGATE_DISPATCHER": "external",
    "CALLGATE_RETRY_BASE": "0.1s",
    "CALLGATE_RETRY_CAP": "0.5s",
    "CALLGATE_DISPATCH_POLL": "0.2s",
    "CALLGATE_MAX_ATTEMPTS": "50",
    "CALLGATE_DEDUPE_WINDOW": "0",
    "CALLGATE_LIMIT_PER_IP": "100000/minute",
    "CALLGATE_LIMIT_PER_PHONE": "100/minute",
    "CALLGATE_LIMIT_GLOBAL": "100000/minute",
    "CALLGATE_DISPATCH_THREADS": "4",
    "CALLGATE_MAX_NUMBERS_PER_IP": "0",
    "CALLGATE_LIMIT_PER_COUNTRY": "100000/minute",
}


def _env(database_url: str, api_url: str, **extra: str) -> dict[str, str]:
    return {
        **RINGOSTAT_ENV,
        **FAST,
        "CALLGATE_DATABASE_URL": database_url,
        "CALLGATE_RINGOSTAT_API_URL": api_url,
        **extra,
    }


def _number(n: int) -> str:
    return f"+38067{n:07d}"


def _submit(service: Service, count: int, start: int = 0) -> dict[str, str]:
    """Post ``count`` leads; return {lead id: digits} of those accepted."""
    accepted = {}
    with requests.Session() as session:
        for n in range(start, start + count):
            try:
                response = session.post(
                    f"{service.url}/api/v1/callbacks", json={"phone": _number(n)}, timeout=10
                )
            except requests.RequestException:
                continue
            if response.status_code == 202:
                accepted[response.json()["id"]] = _number(n).lstrip("+")
    return accepted


def _statuses(database_url: str) -> dict[str, tuple[str, bool]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, status, confirmed FROM leads")).all()
    finally:
        engine.dispose()
    return {row[0]: (row[1], bool(row[2])) for row in rows}


def _assert_each_placed_once(
    database_url: str, fake: FakeProvider, accepted: dict[str, str], timeout: float = 60
) -> None:
    def all_placed() -> bool:
        statuses = _statuses(database_url)
        return all(statuses.get(lead_id, ("?",))[0] == "placed" for lead_id in accepted)

    wait_until(all_placed, timeout, "every accepted lead placed")
    time.sleep(0.5)  # let any stray duplicate arrive before counting
    for digits in accepted.values():
        assert fake.accepted[digits] == 1, digits
    assert sum(fake.accepted.values()) == len(accepted)


def test_provider_failing_for_a_while(
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
    fake_ringostat: FakeProvider,
    pg_database: str,
) -> None:
    fake_ringostat.set(statuses=[500] * 15 + [200])
    env = _env(pg_database, fake_ringostat.url)
    service = start_service(env)
    start_worker(env)
    accepted = _submit(service, 10)
    assert len(accepted) == 10
    _assert_each_placed_once(pg_database, fake_ringostat, accepted)
    assert len(fake_ringostat.received) >= 25  # the failures were really retried


def test_provider_hanging_past_the_read_timeout(
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
    fake_ringostat: FakeProvider,
    pg_database: str,
) -> None:
    fake_ringostat.set(delay=1.5)
    env = _env(pg_database, fake_ringostat.url, CALLGATE_PROVIDER_READ_TIMEOUT="0.3s")
    service = start_service(env)
    start_worker(env)
    accepted = _submit(service, 5)
    _assert_each_placed_once(pg_database, fake_ringostat, accepted)
    statuses = _statuses(pg_database)
    assert all(statuses[lead_id] == ("placed", False) for lead_id in accepted)  # unconfirmed
    assert len(fake_ringostat.received) == 5  # never sent twice


def test_provider_refusing_connections_then_coming_back(
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
    pg_database: str,
) -> None:
    port = free_port()
    env = _env(pg_database, f"http://127.0.0.1:{port}")
    service = start_service(env)
    start_worker(env)
    accepted = _submit(service, 8)
    time.sleep(1.0)  # several refused attempts
    # Each refused attempt puts the lead back in the queue; a snapshot may catch one in flight.
    assert {s[0] for s in _statuses(pg_database).values()} <= {"queued", "dispatching"}
    fake = FakeProvider(port=port).start()
    try:
        _assert_each_placed_once(pg_database, fake, accepted)
    finally:
        fake.stop()


def test_worker_killed_in_the_middle_of_a_dispatch(
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
    fake_ringostat: FakeProvider,
    pg_database: str,
) -> None:
    fake_ringostat.set(delay=5.0)
    env = _env(pg_database, fake_ringostat.url, CALLGATE_DISPATCH_LEASE="1s")
    service = start_service(env)
    doomed = start_worker(env, name="doomed")
    first = _submit(service, 1)
    fake_ringostat.wait_for(1, timeout=20)
    doomed.kill()  # SIGKILL while the provider is still answering
    fake_ringostat.set(delay=0.0)
    start_worker(env, name="survivor")
    later = _submit(service, 5, start=1)
    _assert_each_placed_once(pg_database, fake_ringostat, {**first, **later})
    [lead_id] = first
    assert _statuses(pg_database)[lead_id] == ("placed", False)


def test_postgresql_restarted(
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
    fake_ringostat: FakeProvider,
    pg_database: str,
    postgres: Postgres,
) -> None:
    env = _env(pg_database, fake_ringostat.url)
    service = start_service(env)
    start_worker(env)
    accepted = _submit(service, 5)
    _assert_each_placed_once(pg_database, fake_ringostat, accepted)
    postgres.restart()
    accepted.update(_submit(service, 10, start=5))
    assert len(accepted) >= 10  # at most a request or two refused while it came back
    _assert_each_placed_once(pg_database, fake_ringostat, accepted)


def test_two_workers_500_leads_exactly_500_calls(
    start_service: Callable[..., Service],
    start_worker: Callable[..., Worker],
    fake_ringostat: FakeProvider,
    pg_database: str,
    tmp_path: Path,
) -> None:
    fake_ringostat.set(delay=0.01)
    env = _env(pg_database, fake_ringostat.url, CALLGATE_DISPATCH_THREADS="8")
    service = start_service(env)
    start_worker(env)
    start_worker(env)
    accepted = _submit(service, 500)
    assert len(accepted) == 500
    _assert_each_placed_once(pg_database, fake_ringostat, accepted, timeout=120)
    assert len(fake_ringostat.received) == 500


def test_postgres_claim_skips_locked_rows(pg_database: str) -> None:
    # FOR UPDATE SKIP LOCKED really runs: a row locked elsewhere is skipped, not waited on.
    from datetime import timedelta

    from service.database import migrate
    from service.leads import Lead, LeadStore

    store = LeadStore(pg_database)
    migrate(store)
    for n in range(2):
        store.insert(Lead(phone=_number(n)))
    raw = pg_database.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(raw) as conn:
        locked = conn.execute("SELECT id FROM tasks ORDER BY due_at LIMIT 1 FOR UPDATE").fetchone()
        claimed = store.tasks.claim(timedelta(seconds=30), limit=2)
        assert [task.id for task in claimed] != [] and locked[0] not in [c.id for c in claimed]
    store.close()
