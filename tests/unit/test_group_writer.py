"""Group commit: concurrent writes share transactions, and one write's fault stays its own."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import IntegrityError

from service.database import migrate
from service.database.batching import MAX_BATCH, GroupWriter
from service.database.locking import WriteLock
from service.leads import Lead, LeadStore
from service.leads.model import utcnow
from service.leads.store import LEADS
from tests.servers import wait_until


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LeadStore]:
    store = LeadStore(f"sqlite:///{tmp_path}/callgate.db")
    migrate(store)
    yield store
    store.close()


def _commits(store: LeadStore) -> list[int]:
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: commits.append(1))
    return commits


def _count(store: LeadStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM leads")).scalar_one())


@contextmanager
def _behind_a_held_batch(
    writer: GroupWriter, *, durable: bool = True
) -> Iterator[tuple[Callable[[int], None], threading.Thread]]:
    """Inside, ``writer`` is committing a batch that waits, so writes started now queue up
    behind it (``queued(n)`` waits until ``n`` have); yields that and the batch's thread. On
    leaving, the batch goes on."""
    gate, holding = threading.Event(), threading.Event()

    def hold(_conn: Connection) -> None:
        holding.set()
        gate.wait(30)

    first = threading.Thread(target=writer.run, args=(hold,), kwargs={"durable": durable})
    first.start()
    assert holding.wait(10)

    def queued(count: int) -> None:
        wait_until(lambda: len(writer._pending) == count, 10, "the writes to queue up")

    try:
        yield queued, first
    finally:
        gate.set()
        first.join(30)
    assert not first.is_alive()


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()


def test_concurrent_inserts_all_land_in_fewer_transactions(store: LeadStore) -> None:
    commits = _commits(store)
    start = threading.Barrier(24)
    results: list[bool] = []

    def submit(n: int) -> None:
        start.wait()
        for k in range(10):
            _, created = store.insert(Lead(phone=f"+3806711{n:02d}{k:03d}", provider="dry-run"))
            results.append(created)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 240
    assert _count(store) == 240
    # 24 threads writing at once: the writer found company at least some of the time.
    assert len(commits) < 240


def test_a_twin_key_fails_alone_and_its_batch_still_commits(store: LeadStore) -> None:
    start = threading.Barrier(16)
    outcomes: dict[int, tuple[str, bool]] = {}

    def submit(n: int) -> None:
        # Eight requests race on one key; eight others carry keys of their own.
        key = "twin-key" if n < 8 else f"own-key-{n}"
        start.wait()
        lead, created = store.insert(
            Lead(phone="+380671112233", provider="dry-run", idempotency_key=key)
        )
        outcomes[n] = (lead.id, created)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    twins = {outcomes[n][0] for n in range(8)}
    assert len(twins) == 1  # every racer got the one stored lead
    assert sum(created for _, created in (outcomes[n] for n in range(8))) == 1
    assert all(outcomes[n][1] for n in range(8, 16))
    assert _count(store) == 9


def test_an_unexpected_fault_is_reported_to_its_own_write(tmp_path: Path) -> None:
    store = LeadStore(f"sqlite:///{tmp_path}/callgate.db")
    migrate(store)
    writer = GroupWriter(store.engine, WriteLock(tmp_path / "callgate.db"))
    results: dict[str, object] = {}

    def good(n: int) -> None:
        def write(conn: Connection) -> int:
            conn.execute(LEADS.insert(), _row(f"good-{n}"))
            return n

        results[f"good-{n}"] = writer.run(write)

    def bad() -> None:
        def write(conn: Connection) -> None:
            conn.execute(text("INSERT INTO no_such_table VALUES (1)"))

        try:
            writer.run(write)
        except Exception as exc:
            results["bad"] = exc

    threads = [threading.Thread(target=good, args=(n,)) for n in range(3)]
    threads.insert(1, threading.Thread(target=bad))
    with _behind_a_held_batch(writer) as (queued, _):
        for thread in threads:
            thread.start()
        queued(4)  # all four behind the held batch, so they are committed as one batch
    _join(threads)
    writer.close()
    assert {key: results[key] for key in ("good-0", "good-1", "good-2")} == {
        "good-0": 0,
        "good-1": 1,
        "good-2": 2,
    }
    assert "no_such_table" in str(results["bad"])
    assert _count(store) == 3
    store.close()


def test_a_constraint_outside_isolation_does_not_report_stored(tmp_path: Path) -> None:
    store = LeadStore(f"sqlite:///{tmp_path}/callgate.db")
    migrate(store)
    writer = GroupWriter(store.engine, WriteLock(None))
    writer.run(lambda conn: conn.execute(LEADS.insert(), _row("same-id")))
    with pytest.raises(IntegrityError):
        writer.run(lambda conn: conn.execute(LEADS.insert(), _row("same-id")))
    writer.close()
    assert _count(store) == 1
    store.close()


def _row(lead_id: str) -> dict[str, object]:
    now = utcnow()
    return {
        "id": lead_id,
        "created_at": now,
        "updated_at": now,
        "phone": "+380671112233",
        "status": "queued",
        "attempt_count": 0,
        "confirmed": True,
        "provider": "dry-run",
    }


def test_an_uncontended_write_runs_in_its_callers_thread(store: LeadStore) -> None:
    writer = GroupWriter(store.engine, WriteLock(None))
    assert writer.run(lambda _conn: threading.current_thread()) is threading.current_thread()
    writer.close()


def test_a_leader_hands_over_and_every_waiting_write_commits(tmp_path: Path) -> None:
    store = LeadStore(f"sqlite:///{tmp_path}/callgate.db")
    migrate(store)
    writer = GroupWriter(store.engine, WriteLock(tmp_path / "callgate.db"))
    ran_in: dict[int, threading.Thread] = {}

    def insert(n: int) -> None:
        def write(conn: Connection) -> None:
            ran_in[n] = threading.current_thread()
            conn.execute(LEADS.insert(), _row(f"lead-{n}"))

        writer.run(write)

    # More waiting writes than one leader takes: batches of MAX_BATCH, LEAD_AT_MOST of them.
    count = MAX_BATCH * (GroupWriter.LEAD_AT_MOST + 1)
    threads = [threading.Thread(target=insert, args=(n,)) for n in range(count)]
    with _behind_a_held_batch(writer) as (queued, first):
        for thread in threads:
            thread.start()
        queued(count)
    _join(threads)
    writer.close()
    assert _count(store) == count
    # The first leader stepped down: later batches were led by a waiting caller.
    assert len({ran_in[n] for n in range(count)}) > 1
    assert first not in {ran_in[n] for n in range(count)[-MAX_BATCH:]}
    store.close()


def test_a_failed_commit_is_reported_to_every_write_and_none_is_run_again(
    tmp_path: Path,
) -> None:
    store = LeadStore(f"sqlite:///{tmp_path}/callgate.db")
    migrate(store)
    writer = GroupWriter(store.engine, WriteLock(tmp_path / "callgate.db"))
    runs: list[str] = []
    errors: dict[str, BaseException] = {}

    def good(conn: Connection) -> None:
        runs.append("good")
        conn.execute(LEADS.insert(), _row("good"))

    def orphan(conn: Connection) -> None:
        # An attempt for no lead, its foreign key checked only at COMMIT: the COMMIT fails.
        runs.append("orphan")
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        conn.exec_driver_sql(
            "INSERT INTO attempts (lead_id, started_at, outcome) "
            "VALUES ('no-such-lead', '2026-01-01 00:00:00', 'placed')"
        )

    def call(name: str, work: object) -> None:
        try:
            writer.run(work)  # type: ignore[arg-type]
        except Exception as exc:
            errors[name] = exc

    threads = [
        threading.Thread(target=call, args=(n, w)) for n, w in (("good", good), ("orphan", orphan))
    ]
    with _behind_a_held_batch(writer) as (queued, _):
        for thread in threads:
            thread.start()
        queued(2)
    _join(threads)
    writer.close()
    assert sorted(errors) == ["good", "orphan"]
    assert "FOREIGN KEY" in str(errors["good"])
    assert sorted(runs) == ["good", "orphan"]  # each ran once, in the batch that failed
    assert _count(store) == 0
    store.close()


def test_writes_ranked_first_run_lowest_rank_first_then_arrival_order(store: LeadStore) -> None:
    # Ranked writes take locks (admission 1, alert grouping 2): every batch in one order.
    writer = GroupWriter(store.engine, WriteLock(None))
    order: list[str] = []

    def queue(name: str, rank: int) -> threading.Thread:
        def write(_conn: Connection) -> None:
            order.append(name)

        thread = threading.Thread(target=lambda: writer.run(write, first=rank))
        thread.start()
        return thread

    threads = []
    with _behind_a_held_batch(writer) as (queued, _):
        for n, (name, rank) in enumerate([("a", 0), ("grouping", 2), ("b", 0), ("admission", 1)]):
            threads.append(queue(name, rank))
            queued(n + 1)  # one at a time: arrival order is known
    _join(threads)
    writer.close()
    assert order == ["admission", "grouping", "a", "b"]


def _full_sync(conn: Connection) -> bool:
    return bool(conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2)  # FULL, else NORMAL


def test_a_batch_waits_for_the_disk_when_any_of_its_writes_must(tmp_path: Path) -> None:
    store = LeadStore(f"sqlite:///{tmp_path}/callgate.db")
    migrate(store)
    writer = GroupWriter(store.engine, WriteLock(tmp_path / "callgate.db"))
    assert writer.run(_full_sync) is True
    assert writer.run(_full_sync, durable=False) is False
    assert writer.run(_full_sync) is True  # the kept connection syncs again
    results: dict[str, bool] = {}

    def run(name: str, durable: bool) -> None:
        results[name] = writer.run(_full_sync, durable=durable)

    threads = [
        threading.Thread(target=run, args=("unsynced", False)),
        threading.Thread(target=run, args=("synced", True)),
    ]
    with _behind_a_held_batch(writer, durable=False) as (queued, _):
        for thread in threads:
            thread.start()
        queued(2)
    _join(threads)
    assert results == {"unsynced": True, "synced": True}  # one batch, synced for both
    writer.close()
    store.close()


def test_a_connection_left_unsynced_never_goes_back_to_the_pool(tmp_path: Path) -> None:
    store = LeadStore(f"sqlite:///{tmp_path}/callgate.db")
    migrate(store)
    writer = GroupWriter(store.engine, WriteLock(None))
    assert writer.run(_full_sync, durable=False) is False
    writer.close()  # its connection is closed, not returned unsynced
    with store.engine.connect() as a, store.engine.connect() as b, store.engine.connect() as c:
        assert [_full_sync(conn) for conn in (a, b, c)] == [True, True, True]
    store.close()


def test_a_failed_unsynced_batch_leaves_the_next_one_synced(tmp_path: Path) -> None:
    store = LeadStore(f"sqlite:///{tmp_path}/callgate.db")
    migrate(store)
    writer = GroupWriter(store.engine, WriteLock(tmp_path / "callgate.db"))

    def broken(conn: Connection) -> None:
        assert not _full_sync(conn)
        conn.execute(text("INSERT INTO no_such_table VALUES (1)"))

    with pytest.raises(Exception, match="no_such_table"):
        writer.run(broken, durable=False)
    assert writer.run(_full_sync) is True  # a fresh connection, synced
    assert writer.run(_full_sync, durable=False) is False
    writer.close()
    store.close()
