"""The task queue on SQLite and on PostgreSQL: one claim per task, fenced writes, leases that
expire before or during the work, and at-least-once kinds retried with backoff."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from service.config import Settings
from service.database import migrate
from service.leads import Lead, LeadStatus, LeadStore
from service.leads.model import utcnow
from service.tasks import ClaimedTask, NewTask, TaskRunner
from tests.servers import wait_until

LEASE = timedelta(seconds=30)
EXPIRED = timedelta(seconds=-1)  # a holder that died at once


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LeadStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/callgate.db"
    else:
        url = request.getfixturevalue("pg_database")
    found = LeadStore(url)
    migrate(found)
    yield found
    found.close()


def _runner(store: LeadStore, **overrides: object) -> TaskRunner:
    settings = Settings(
        database_url=store.url,
        secret_key="x" * 32,
        retry_base=0.01,
        retry_cap=0.05,
        **overrides,  # type: ignore[arg-type]
    )
    return TaskRunner(settings, store)


def _lead(store: LeadStore) -> str:
    lead, _ = store.insert(Lead(phone="+380671112233", provider="dry-run", status="held"))
    return lead.id  # held: no task of its own


def test_each_task_is_claimed_by_one_caller(store: LeadStore) -> None:
    lead_id = _lead(store)
    for _ in range(20):
        store.tasks.enqueue("probe", lead_id)
    claimed: list[ClaimedTask] = []
    start = threading.Barrier(4)

    def claim() -> None:
        start.wait()
        while batch := store.tasks.claim(LEASE, limit=3):
            claimed.extend(batch)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(t.id for t in claimed) == sorted({t.id for t in claimed})
    assert len(claimed) == 20 and all(t.fence == 1 and t.attempts == 1 for t in claimed)


def test_a_task_due_later_waits_and_carries_its_payload(store: LeadStore) -> None:
    lead_id = _lead(store)
    store.tasks.enqueue("probe", lead_id, due_at=utcnow() + timedelta(hours=1), payload={"n": 7})
    assert store.tasks.claim(LEASE) == []
    next_due = store.tasks.next_due()
    assert next_due is not None and next_due > utcnow() + timedelta(minutes=59)
    store.tasks.enqueue("probe", lead_id, payload={"event": "lead.placed"})
    [task] = store.tasks.claim(LEASE)
    assert (task.kind, task.lead_id, task.payload) == ("probe", lead_id, {"event": "lead.placed"})


def test_an_expired_lease_is_claimed_again_and_the_old_holder_writes_nothing(
    store: LeadStore,
) -> None:
    lead_id = _lead(store)
    store.tasks.enqueue("probe", lead_id)
    [stale] = store.tasks.claim(EXPIRED)
    assert store.tasks.requeue_expired() == 1
    [fresh] = store.tasks.claim(LEASE)
    assert (fresh.id, fresh.fence, fresh.attempts) == (stale.id, stale.fence + 1, 2)
    assert not store.tasks.finish(stale, error="stale")
    assert not store.tasks.retry(stale, utcnow())
    # Nor its word on the lead (a status check's): the lead and the task stay as they are.
    assert not store.note(stale, LeadStatus.HELD, {"provider_status": "stale"}, error="stale")
    assert store.note(fresh, LeadStatus.HELD, {"provider_status": "ringing"}, error="still ringing")
    [task] = store.tasks.of_lead(lead_id)
    assert (task.state, task.last_error) == ("done", "still ringing")
    lead = store.get(lead_id)
    assert lead is not None and (lead.status, lead.provider_status) == ("held", "ringing")


def test_a_lease_lost_in_flight_is_settled_by_its_kind_never_rerun(store: LeadStore) -> None:
    lead, _ = store.insert(Lead(phone="+380671112233", provider="dry-run"))
    [stale] = store.tasks.claim(EXPIRED)
    assert store.transition(lead.id, LeadStatus.DISPATCHING, task=stale, in_flight=True)
    runner = _runner(store)
    settled: list[ClaimedTask] = []
    runner.register("place_call", lambda task: None, lost=settled.append)
    assert runner.reclaim_expired() == (0, 1)
    [taken] = settled
    assert taken.fence == stale.fence + 1
    # The dead holder's outcome arrives late: refused, whatever it says.
    assert not store.transition(lead.id, LeadStatus.PLACED, task=stale)
    assert store.transition(lead.id, LeadStatus.PLACED, task=taken, values={"confirmed": False})
    assert store.tasks.claim(LEASE) == []  # never run again
    assert runner.reclaim_expired() == (0, 0)


def test_an_at_least_once_kind_is_retried_with_backoff_then_given_up(store: LeadStore) -> None:
    lead_id = _lead(store)
    runner = _runner(store)
    calls: list[int] = []

    def flaky(task: ClaimedTask) -> None:
        calls.append(task.attempts)
        raise ConnectionError("receiver down")

    runner.register("deliver_probe", flaky, max_attempts=3)
    store.tasks.enqueue("deliver_probe", lead_id)
    for attempt in (1, 2, 3):
        [task] = _claim_when_due(store)
        runner.run(task)
        [row] = store.tasks.of_lead(lead_id)
        assert (row.attempts, row.last_error) == (attempt, "ConnectionError: receiver down")
        if attempt < 3:
            assert (row.state, row.due_at > utcnow() - timedelta(seconds=1)) == ("pending", True)
    assert calls == [1, 2, 3]
    assert row.state == "failed"
    assert store.tasks.claim(LEASE) == []


def test_giving_up_enqueues_what_the_kind_names_and_gives_up_even_if_that_fails(
    store: LeadStore,
) -> None:
    lead_id = _lead(store)
    runner = _runner(store)
    reasons: list[str] = []

    def failing(task: ClaimedTask) -> None:
        raise ValueError("https://hook.example/in?token=s3cret: bad port")

    def alert(task: ClaimedTask, reason: str) -> list[NewTask]:
        reasons.append(reason)
        return [NewTask("alert_probe", task.lead_id, utcnow() + timedelta(hours=1))]

    def broken(task: ClaimedTask, reason: str) -> list[NewTask]:
        raise RuntimeError("the hook itself fails")

    runner.register("with_hook", failing, max_attempts=1, gave_up=alert)
    runner.register("broken_hook", failing, max_attempts=1, gave_up=broken)
    for kind in ("with_hook", "broken_hook"):
        store.tasks.enqueue(kind, lead_id)
        [task] = store.tasks.claim(LEASE)
        runner.run(task)
    states = {row.kind: row.state for row in store.tasks.of_lead(lead_id)}
    # Both given up (a failing hook must not leave its task to run at every lease's end)...
    assert states == {"with_hook": "failed", "broken_hook": "failed", "alert_probe": "pending"}
    # ...and the hook hears the error's type only: its text may quote a URL's token.
    assert reasons == ["handler error: ValueError"]


def _claim_when_due(store: LeadStore) -> list[ClaimedTask]:
    found: list[ClaimedTask] = []
    wait_until(lambda: found.extend(store.tasks.claim(LEASE)) or found, 5, "the retry to fall due")
    return found


def test_a_transition_commits_its_tasks_with_it(store: LeadStore) -> None:
    lead_id = _lead(store)
    follow = [NewTask("probe", lead_id, payload={"k": 1})]
    assert store.transition(
        lead_id, LeadStatus.QUEUED, expect_from=(LeadStatus.HELD,), enqueue=follow
    )
    assert not store.transition(
        lead_id, LeadStatus.QUEUED, expect_from=(LeadStatus.HELD,), enqueue=follow
    )  # no longer held: neither change nor task
    assert sorted(t.kind for t in store.tasks.of_lead(lead_id)) == ["probe"]


def test_the_provider_fault_is_shared_until_a_confirmed_placement(store: LeadStore) -> None:
    assert store.state.provider_fault() is None
    store.state.set_provider_fault("credentials refused (HTTP 401)")
    store.state.set_provider_fault("credentials refused (HTTP 403)")  # many workers see it: upsert
    assert store.state.provider_fault() == "credentials refused (HTTP 403)"
    lead, _ = store.insert(Lead(phone="+380671112233", provider="dry-run"))
    [task] = store.tasks.claim(LEASE)
    assert store.transition(lead.id, LeadStatus.DISPATCHING, task=task, in_flight=True)
    assert store.transition(lead.id, LeadStatus.PLACED, task=task, provider_ok=True)
    assert store.state.provider_fault() is None


def _synced(raw: Any, postgres: bool) -> bool:
    """Whether the transaction on the driver's connection ``raw`` waits for the disk."""
    if postgres:
        with raw.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return bool(cursor.fetchone()[0] != "off")
    return bool(raw.execute("PRAGMA synchronous").fetchone()[0] == 2)  # FULL


class _PlacedEvents:
    """An outbox that sends an event when a lead is placed (see service.events.hook)."""

    def emits(self, target: LeadStatus, created: bool) -> bool:
        return target == LeadStatus.PLACED

    def tasks(self, lead: Any, target: LeadStatus, created: bool) -> list[NewTask]:
        return [NewTask("probe", lead["id"])]

    def service(self, kind: str, reason: str) -> list[NewTask]:
        return []


def test_a_commit_waits_for_the_disk_unless_a_power_cut_that_lost_it_cost_only_a_repeat(
    store: LeadStore,
) -> None:
    """Synced: a lead, an operator's decision, a call's in-flight mark, its failure or retry, a
    move that emits events. Unsynced: a claim, a placed call's outcome (a power cut leaves its
    in-flight mark, settled as placed, unconfirmed), a task's bookkeeping. A synced commit
    makes every earlier one durable too."""
    seen: dict[str, set[bool]] = {}
    phase = ["insert"]

    def note(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith(("INSERT", "UPDATE", "WITH")):  # PostgreSQL: a claim
            synced = _synced(conn.connection.dbapi_connection, store.is_postgres)
            seen.setdefault(phase[0], set()).add(synced)

    def call(label: str, outcome: LeadStatus, **write: Any) -> str:
        phase[0] = "insert"
        lead, _ = store.insert(Lead(phone="+380671112233", provider="dry-run"))
        phase[0] = "claim"
        [task] = store.tasks.claim(LEASE)
        phase[0] = "in flight"
        assert store.transition(lead.id, LeadStatus.DISPATCHING, task=task, in_flight=True)
        phase[0] = label
        attempt = {"outcome": str(outcome), "duration_ms": 5}
        assert store.transition(lead.id, outcome, task=task, attempt=attempt, **write)
        return lead.id

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        placed = call("placed", LeadStatus.PLACED)
        call("failed", LeadStatus.FAILED)
        call("retry", LeadStatus.QUEUED, task_again_at=utcnow() + timedelta(minutes=1))
        store.outbox = _PlacedEvents()
        call("placed, with events", LeadStatus.PLACED)
        store.outbox = None
        phase[0] = "enqueue"
        store.tasks.enqueue("probe", placed)
        phase[0] = "claim"
        probe = next(t for t in store.tasks.claim(LEASE, limit=10) if t.kind == "probe")
        phase[0] = "task done"
        assert store.tasks.finish(probe)
        phase[0] = "operator"
        held, _ = store.insert(Lead(phone="+380671112244", provider="dry-run", status="held"))
        assert store.release_held(held.id) == [held.id]
    finally:
        event.remove(store.engine, "before_cursor_execute", note)
    assert seen == {
        "insert": {True},
        "claim": {False},
        "in flight": {True},
        "placed": {False},
        "failed": {True},
        "retry": {True},
        "placed, with events": {True},
        "enqueue": {True},
        "task done": {False},
        "operator": {True},
    }
    found = store.get(placed, with_attempts=True)
    assert found is not None and found.status == "placed" and len(found.attempts) == 1


def test_a_claimed_batch_carries_the_leads_of_its_calls_read_after_the_claim(
    store: LeadStore,
) -> None:
    first, _ = store.insert(Lead(phone="+380671112233", provider="dry-run"))
    second, _ = store.insert(Lead(phone="+380671112244", provider="dry-run"))
    store.tasks.enqueue("probe", first.id)  # not a call: its handler reads what it needs itself
    claimed = {(t.kind, t.lead_id): t for t in store.tasks.claim(LEASE, limit=10)}
    assert set(claimed) == {
        ("place_call", first.id),
        ("place_call", second.id),
        ("probe", first.id),
    }
    for lead in (first, second):
        carried = claimed["place_call", lead.id].lead
        assert carried is not None
        assert (carried.id, carried.phone, carried.status) == (lead.id, lead.phone, "queued")
    assert claimed["probe", first.id].lead is None
    # The lead moves on after its claim: the carried copy is stale, and the handler's guarded
    # write is refused, writing nothing.
    task = claimed["place_call", first.id]
    assert store.transition(first.id, LeadStatus.CANCELLED, expect_from=(LeadStatus.QUEUED,))
    assert store.lead_of(task) is task.lead
    assert not store.transition(
        first.id,
        LeadStatus.DISPATCHING,
        expect_from=(LeadStatus.QUEUED,),
        task=task,
        in_flight=True,
    )
    found = store.get(first.id)
    assert found is not None and found.status == "cancelled"
    # A task claimed without its lead (a take-over) reads it when asked.
    bare = ClaimedTask(task.id, task.kind, task.lead_id, task.fence, task.attempts)
    again = store.lead_of(bare)
    assert again is not None and again.status == "cancelled"


def test_a_batch_whose_leads_cannot_be_read_still_reaches_its_handlers(store: LeadStore) -> None:
    lead, _ = store.insert(Lead(phone="+380671112233", provider="dry-run"))
    failures: list[str] = []

    def refuse_batch_read(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT leads.id") and " IN (" in statement:
            failures.append(statement)
            raise conn.dialect.loaded_dbapi.OperationalError("connection lost")  # the driver's

    event.listen(store.engine, "before_cursor_execute", refuse_batch_read)
    try:
        [task] = store.tasks.claim(LEASE)
    finally:
        event.remove(store.engine, "before_cursor_execute", refuse_batch_read)
    assert failures and task.lead is None  # claimed (committed), handed over without its lead
    found = store.lead_of(task)
    assert found is not None and (found.id, found.status) == (lead.id, "queued")


def test_the_sqlite_poll_runs_a_task_due_later_at_its_time_after_a_claim(tmp_path: Path) -> None:
    """Another process stores a task due now and one due shortly after, in one commit; the
    loop claims the first, and then reads the next due time from the poll that sees its own
    claim's commit: the second runs long before the long poll would have found it."""
    url = f"sqlite:///{tmp_path}/callgate.db"
    mine, other = LeadStore(url), LeadStore(url)  # other: no claim loop to wake directly
    migrate(mine)
    runner = _runner(mine, dispatch_poll=30.0)
    ran: dict[int, datetime] = {}

    def probe(task: ClaimedTask) -> None:
        ran[task.id] = utcnow()

    runner.register("probe", probe)
    runner.start()
    try:
        lead_id = _lead(other)
        soon = utcnow() + timedelta(seconds=0.5)
        both = [NewTask("probe", lead_id), NewTask("probe", lead_id, due_at=soon)]
        assert other.transition(
            lead_id, LeadStatus.QUEUED, expect_from=(LeadStatus.HELD,), enqueue=both
        )
        wait_until(lambda: len(ran) == 2, 10, "both tasks to run")
        assert sorted(ran.values())[1] >= soon
    finally:
        runner.stop()
        mine.close()
        other.close()
