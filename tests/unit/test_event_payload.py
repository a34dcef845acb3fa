"""The event body: one builder, from the stored lead or any lead-like object."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from service.events.payload import build_event, describe, encode, lead_data, ping_event
from service.events.schemas import LeadAttributionSchema, LeadDataSchema
from service.leads.model import Lead

AT = datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC)


def stored_lead() -> Lead:
    return Lead(
        id="lead-abc",
        phone="+380671112233",
        name="Олена",
        comment="after 18:00",
        page_url="https://shop.example.com/contacts",
        utm_source="google",
        utm_medium="cpc",
        utm_campaign="spring",
        client_id="1234567890.1700000000",
        status="placed",
        provider="ringostat",
        provider_ref="call-42",
        attempt_count=1,
        created_at=datetime(2026, 11, 28, 9, 59, tzinfo=UTC),
    )


def test_the_stored_lead_becomes_the_documented_body() -> None:
    body = build_event("lead.placed", stored_lead(), at=AT)
    assert body["type"] == "lead.placed"
    assert body["timestamp"] == "2026-11-28T10:00:00.123456Z"
    assert body["data"] == {
        "id": "lead-abc",
        "status": "placed",
        "phone": "+380671112233",
        "name": "Олена",
        "comment": "after 18:00",
        "page_url": "https://shop.example.com/contacts",
        "call_at": None,
        "scheduled_for": None,
        "attribution": {
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "spring",
            "utm_term": None,
            "utm_content": None,
            "client_id": "1234567890.1700000000",
            "gclid": None,
            "fbclid": None,
            "yclid": None,
        },
        "provider": "ringostat",
        "provider_ref": "call-42",
        "reason": None,
        "attempts": 1,
        "created_at": "2026-11-28T09:59:00Z",
    }


def test_fields_a_richer_lead_has_are_read_and_missing_ones_are_null() -> None:
    lead = SimpleNamespace(
        id="x",
        status="scheduled",
        phone="+48601234567",
        scheduled_for=datetime(2026, 11, 29, 9, 0, tzinfo=UTC),
        call_at=datetime(2026, 11, 29, 9, 0, tzinfo=UTC),
        gclid="Cj0KCQ",
        fbclid="IwAR",
        yclid="123",
    )
    data = lead_data(lead)
    assert data["scheduled_for"] == data["call_at"] == "2026-11-29T09:00:00Z"
    assert data["attribution"]["gclid"] == "Cj0KCQ"
    assert data["attribution"]["yclid"] == "123"
    assert data["name"] is None and data["attempts"] == 0


def test_a_plain_mapping_with_nested_attribution() -> None:
    data = lead_data(
        {"id": "x", "status": "failed", "phone": "+1", "attribution": {"fbclid": "IwAR"}}
    )
    assert data["attribution"]["fbclid"] == "IwAR"


def test_every_declared_field_is_filled() -> None:
    data = lead_data(stored_lead())
    assert set(data) == set(LeadDataSchema().fields)
    assert set(data["attribution"]) == set(LeadAttributionSchema().fields)


def test_only_lead_events() -> None:
    with pytest.raises(ValueError, match="not a lead event"):
        build_event("lead.called", stored_lead())
    with pytest.raises(ValueError, match="not a lead event"):
        build_event("ping", stored_lead())


def test_the_encoded_body_is_compact_utf8_json_and_describe_is_safe() -> None:
    body = build_event("lead.failed", stored_lead(), at=AT)
    text = encode(body)
    assert json.loads(text) == body
    assert "Олена" in text and ", " not in text
    assert describe(body) == "lead.failed lead=lead-abc"
    assert describe(ping_event(at=AT)) == "ping"
