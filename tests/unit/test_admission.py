"""What the admission rules cost the insert: nothing at all when they are off."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from service.database import migrate
from service.leads import Lead, LeadStore
from service.leads.admission import Admission, NotARepeat, TooManyNumbers


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LeadStore]:
    found = LeadStore(f"sqlite:///{tmp_path}/callgate.db")
    migrate(found)
    yield found
    found.close()


def _statements(store: LeadStore, lead: Lead, rules: Admission) -> list[str]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        store.insert(lead, rules)
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    return seen


def test_with_every_rule_off_the_insert_only_inserts(store: LeadStore) -> None:
    lead = Lead(phone="+380671112233", client_ip="198.51.100.1")
    assert _statements(store, lead, Admission()) == ["INSERT", "INSERT"]  # the lead, its task


def test_the_rules_are_read_in_the_inserts_own_transaction(store: LeadStore) -> None:
    rules = Admission(
        max_numbers_per_ip=1, dedupe_window=timedelta(minutes=10), daily_call_budget=5
    )
    first = _statements(store, Lead(phone="+380671112233", client_ip="198.51.100.1"), rules)
    assert first == ["SELECT", "SELECT", "SELECT", "INSERT", "INSERT"]  # cap, twin, budget
    with pytest.raises(TooManyNumbers):
        store.insert(Lead(phone="+380671112234", client_ip="198.51.100.1"), rules)
    assert len(store.search()) == 1


def test_a_request_let_through_as_a_repeat_that_repeats_nothing_stores_nothing(
    store: LeadStore,
) -> None:
    """The API skipped the number's rate limit on a first look that saw an open lead; if that
    lead is gone by the insert, the insert refuses, so the request is counted and tried again."""
    rules = Admission(dedupe_window=timedelta(minutes=10), repeat_expected=True)
    with pytest.raises(NotARepeat):
        store.insert(Lead(phone="+380671112233", client_ip="198.51.100.1"), rules)
    assert store.search() == []
    first, _ = store.insert(Lead(phone="+380671112233", client_ip="198.51.100.1"), Admission())
    again, created = store.insert(Lead(phone="+380671112233", client_ip="198.51.100.1"), rules)
    assert (again.id, created, len(store.search())) == (first.id, False, 1)
