"""The lifecycle table: every move not in it is refused and never written; the docs show it."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from service.database import migrate
from service.leads import IllegalTransition, Lead, LeadStatus, LeadStore
from service.leads.lifecycle import TRANSITIONS, mermaid, sources
from service.leads.store import LEADS
from tests.conftest import SettingsFactory

ROOT = Path(__file__).resolve().parents[2]
ILLEGAL = [
    (source, target)
    for source, target in itertools.product(LeadStatus, LeadStatus)
    if target not in TRANSITIONS[source]
]


@pytest.fixture
def store(make_settings: SettingsFactory) -> Iterator[LeadStore]:
    found = LeadStore(make_settings().database_url)
    migrate(found)
    yield found
    found.close()


def _lead_in(store: LeadStore, status: LeadStatus) -> str:
    lead, _ = store.insert(Lead(phone="+380671112233", provider="dry-run"))
    with store.engine.begin() as conn:  # set up directly: the status under test
        conn.execute(update(LEADS).where(LEADS.c.id == lead.id).values(status=status))
    return lead.id


def test_the_table_names_every_status() -> None:
    assert set(TRANSITIONS) == set(LeadStatus)
    assert len(ILLEGAL) > 50  # most pairs are illegal; the loop below is not vacuous


@pytest.mark.parametrize(("source", "target"), ILLEGAL, ids=lambda s: str(s))
def test_an_illegal_transition_is_refused_and_never_written(
    store: LeadStore, source: LeadStatus, target: LeadStatus
) -> None:
    lead_id = _lead_in(store, source)
    with pytest.raises(IllegalTransition):
        store.transition(lead_id, target, expect_from=(source,), values={"last_error": "x"})
    lead = store.get(lead_id)
    assert lead is not None and (lead.status, lead.last_error) == (source, None)


def test_a_legal_move_from_a_status_the_lead_is_not_in_writes_nothing(store: LeadStore) -> None:
    lead_id = _lead_in(store, LeadStatus.QUEUED)
    # queued -> placed is not a move; placed is reached only from dispatching.
    assert sources(LeadStatus.PLACED) == (LeadStatus.DISPATCHING,)
    assert not store.transition(lead_id, LeadStatus.PLACED, values={"last_error": "x"})
    lead = store.get(lead_id)
    assert lead is not None and (lead.status, lead.last_error) == ("queued", None)


def test_a_refused_transition_enqueues_nothing(store: LeadStore) -> None:
    from service.tasks import NewTask

    lead_id = _lead_in(store, LeadStatus.CONNECTED)
    before = len(store.tasks.of_lead(lead_id))
    assert not store.transition(
        lead_id,
        LeadStatus.QUEUED,
        expect_from=(LeadStatus.FAILED,),
        enqueue=[NewTask("place_call", lead_id)],
    )
    assert len(store.tasks.of_lead(lead_id)) == before


def test_the_architecture_page_shows_the_table() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    found = re.search(r"```mermaid\n(.*?)```", page, re.S)
    assert found is not None, "docs/architecture.md has no mermaid block"
    assert found.group(1) == mermaid(), (
        "the lifecycle diagram is stale: run `python -m service.leads`"
    )
