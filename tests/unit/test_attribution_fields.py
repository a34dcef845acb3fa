"""The attribution is declared once (service.attribution.Attribution): everything else derives.

Adding a field to the declaration (and a migration for its column) must be enough for it to be
stored, claimed for dispatch, handed to providers, exported, documented and captured. These
tests hold every derived place to the declaration, so a hand-written list would show up here.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import String

from service.attribution import (
    EXPORTED,
    FIELDS,
    PERSONAL,
    SPECS,
    Attribution,
    params,
    parse_click_ids,
)
from service.cli import EXPORT_COLUMNS, main
from service.dispatch import call_request
from service.leads import LeadStatus, retention
from service.leads.model import Base, Lead
from service.providers.base import CallRequest
from tests.conftest import services

# A value for every field, each different, within its declared length.
EVERYTHING = Attribution(
    **{name: f"v{i}-{name}"[: SPECS[name].length] for i, name in enumerate(FIELDS)}
)


def test_the_declaration_has_the_fields_of_the_design() -> None:
    assert FIELDS[:9] == (
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "client_id",
        "gclid",
        "fbclid",
        "yclid",
    )
    assert {name for name in FIELDS if SPECS[name].personal} == {"client_ip", "user_agent"}


def test_every_field_is_a_column_of_its_declared_length() -> None:
    columns = Lead.__table__.columns
    for name, spec in SPECS.items():
        assert isinstance(columns[name].type, String), name
        assert columns[name].type.length == spec.length, name
        assert columns[name].nullable, name


def test_the_migrations_create_exactly_the_model(make_app: Callable[..., Flask]) -> None:
    """The migrated leads table matches the model the declaration generates, column by column."""
    store = services(make_app()).store
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diff if "leads" in repr(d) or "lead_aliases" in repr(d)] == []


def test_every_field_is_claimed_and_handed_to_the_provider() -> None:
    lead = Lead(id="L1", phone="+380671112233", name="Ann", **EVERYTHING.values())
    call = call_request(lead)
    assert call.attribution == EVERYTHING
    assert {f.name for f in dataclasses.fields(CallRequest)} >= {"attribution"}


def test_the_claimed_lead_carries_every_field(make_app: Callable[..., Flask]) -> None:
    """What place_call gets for a claimed task (read with the claim, or by store.get) has
    every stored field."""
    app = make_app()
    store = services(app).store
    lead, created = store.insert(
        Lead(phone="+380671112233", provider="dry-run", **EVERYTHING.values())
    )
    assert created
    (claimed,) = store.tasks.claim(lease=timedelta(seconds=30))
    assert claimed.lead_id == lead.id
    assert claimed.lead is not None and claimed.lead.attribution == EVERYTHING
    loaded = store.get(claimed.lead_id)
    assert loaded is not None and loaded.attribution == EVERYTHING


def test_every_campaign_field_is_exported_and_no_personal_one() -> None:
    assert set(EXPORTED) <= set(EXPORT_COLUMNS)
    assert {name for name in FIELDS if not SPECS[name].personal} == set(EXPORTED)
    assert not {"client_ip", "user_agent"} & set(EXPORT_COLUMNS)


def test_every_field_is_in_the_openapi_attribution_schema(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    schema = document["components"]["schemas"]["Attribution"]
    assert set(schema["properties"]) == set(FIELDS)
    for name, spec in SPECS.items():
        assert schema["properties"][name]["maxLength"] == spec.length, name


def test_ringostat_params_come_from_the_declaration() -> None:
    assert params("ringostat") == {
        "utm_source": "utmSource",
        "utm_medium": "utmMedium",
        "utm_campaign": "utmCampaign",
        "utm_term": "utmTerm",
        "utm_content": "utmContent",
        "client_id": "clientId",
        "client_ip": "clientIp",
        "user_agent": "clientUserAgent",
    }
    # No provider's reference document has a field for an ad click id.
    assert not {"gclid", "fbclid", "yclid"} & set(params("ringostat"))


# -- click ids from page_url ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("page_url", "expected"),
    [
        (
            "https://shop.example/p?gclid=Cj0KCQjw-abc_DEF.1&utm_source=x",
            {"gclid": "Cj0KCQjw-abc_DEF.1"},
        ),
        (
            "https://shop.example/?fbclid=IwAR2xYz_01-q&yclid=5839201934&gclid=",
            {"fbclid": "IwAR2xYz_01-q", "yclid": "5839201934"},
        ),
        ("https://shop.example/?gclid=a&gclid=b", {"gclid": "a"}),
        ("/relative/page?yclid=42", {"yclid": "42"}),
        ("https://shop.example/?GCLID=upper", {}),  # parameter names are case-sensitive
        ("https://shop.example/#gclid=in-the-fragment", {}),
        ("https://shop.example/?gclid=%3Cscript%3E", {}),  # garbage is dropped
        ("https://shop.example/?gclid=has%20space", {}),
        ("https://shop.example/?gclid=" + "a" * 257, {}),  # longer than the column
        ("https://shop.example/?gclid=" + "a" * 256, {"gclid": "a" * 256}),
        ("https://shop.example/?gclid=%00x", {}),
        ("http://[broken/?gclid=abc", {}),
        ("not a url at all", {}),
        ("", {}),
        (None, {}),
    ],
)
def test_click_ids_from_the_page_url(page_url: str | None, expected: dict[str, str]) -> None:
    assert parse_click_ids(page_url) == expected


def test_click_ids_are_stored_exported_and_recorded_by_dry_run(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    page = "https://shop.example/landing?gclid=Cj0-abc_1&fbclid=IwAR-2&yclid=77&x=<b>"
    answer = app.test_client().post(
        "/api/v1/callbacks", json={"phone": "+380671112233", "page_url": page}
    )
    assert answer.status_code == 202
    store = services(app).store
    lead = store.get(answer.get_json()["id"])
    assert lead is not None
    assert (lead.gclid, lead.fbclid, lead.yclid) == ("Cj0-abc_1", "IwAR-2", "77")

    assert services(app).dispatcher.run_once()
    lead = store.get(lead.id, with_attempts=True)
    assert lead is not None and lead.status == "placed"
    detail = lead.attempts[-1].detail or ""
    assert '"gclid": "Cj0-abc_1"' in detail and '"yclid": "77"' in detail

    url = services(app).settings.database_url
    result = CliRunner().invoke(
        main, ["leads", "export", "--since", "2000-01-01"], env={"CALLGATE_DATABASE_URL": url}
    )
    assert result.exit_code == 0, result.output
    (row,) = csv.DictReader(io.StringIO(result.output))
    assert (row["gclid"], row["fbclid"], row["yclid"]) == ("Cj0-abc_1", "IwAR-2", "77")


def test_a_garbage_click_id_is_dropped_never_an_error(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    page = "https://shop.example/?gclid=%22%3E%3Cscript%3Ealert(1)%3C/script%3E&fbclid=" + "x" * 900
    answer = app.test_client().post(
        "/api/v1/callbacks", json={"phone": "+380671112233", "page_url": page}
    )
    assert answer.status_code == 202
    lead = services(app).store.get(answer.get_json()["id"])
    assert lead is not None and (lead.gclid, lead.fbclid, lead.page_url) == (None, None, page)


def test_purge_erases_the_personal_fields_and_keeps_the_campaign(
    make_app: Callable[..., Flask],
) -> None:
    store = services(make_app()).store
    lead, _ = store.insert(Lead(phone="+380671112233", provider="dry-run", **EVERYTHING.values()))
    assert store.transition(lead.id, LeadStatus.FAILED)  # ended: its number may go
    assert retention.purge(store, older_than=lead.created_at + timedelta(seconds=1)) == (1, 0)
    purged = store.get(lead.id)
    assert purged is not None
    kept = purged.attribution.values()
    assert {name: kept[name] for name in PERSONAL} == dict.fromkeys(PERSONAL)
    assert {name: kept[name] for name in EXPORTED} == {
        name: EVERYTHING.values()[name] for name in EXPORTED
    }
