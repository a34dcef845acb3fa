"""De-duplication answers another client's repeat with an alias: a fresh id of its own that
behaves as a fresh acceptance would, never the first lead's id (docs/security.md)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from service.leads.admission import ALIASES
from service.leads.model import utcnow
from tests.api.test_callbacks import assert_problem
from tests.api.test_defences import cli
from tests.conftest import services

URL = "/api/v1/callbacks"
NUMBER = "+380671112233"
VICTIM, STRANGER = "198.51.100.1", "203.0.113.9"


def post(app: Flask, ip: str, phone: str = NUMBER, **headers: str) -> TestResponse:
    return app.test_client().post(
        URL, json={"phone": phone}, environ_base={"REMOTE_ADDR": ip}, headers=headers
    )


def test_a_strangers_repeat_repeated_by_the_stranger_gets_the_strangers_id(
    make_app: Callable[..., Flask],
) -> None:
    """As with a fresh lead: 202 first, then 200 with the same id, from the same address."""
    app = make_app()
    victims = post(app, VICTIM).get_json()["id"]
    first = post(app, STRANGER)
    again = post(app, STRANGER)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.get_json() == again.get_json()
    assert victims not in (first.get_json()["id"], again.get_json()["id"])
    # The victim's own repeat still gets the victim's lead.
    assert post(app, VICTIM).get_json()["id"] == victims
    assert len(services(app).store.search()) == 1


def test_a_strangers_idempotency_key_names_its_alias(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    post(app, VICTIM)
    first = post(app, STRANGER, **{"Idempotency-Key": "stranger-key-0001"})
    # A retry with the key, from another address (a phone that changed networks).
    retry = post(app, "203.0.113.77", **{"Idempotency-Key": "stranger-key-0001"})
    assert (first.status_code, retry.status_code) == (202, 200)
    assert first.get_json()["id"] == retry.get_json()["id"]
    reused = post(app, STRANGER, "+380671112299", **{"Idempotency-Key": "stranger-key-0001"})
    assert_problem(reused, 422, "idempotency_key", "key_reused")


def test_an_alias_over_the_daily_budget_is_held_as_a_fresh_lead_would_be(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(daily_call_budget=1)
    assert post(app, VICTIM).get_json()["status"] == "queued"
    fresh = post(app, "203.0.113.50", "+380671112299").get_json()
    alias = post(app, STRANGER).get_json()
    assert fresh["status"] == alias["status"] == "held"
    while services(app).dispatcher.run_once():
        pass
    shown = app.test_client().get(f"{URL}/{alias['id']}").get_json()
    assert (shown["id"], shown["status"]) == (alias["id"], "held")


def test_an_alias_reads_as_queued_until_the_call_then_as_placed(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    post(app, VICTIM)
    alias = post(app, STRANGER).get_json()
    client = app.test_client()
    assert client.get(f"{URL}/{alias['id']}").get_json() == alias
    while services(app).dispatcher.run_once():
        pass
    shown = client.get(f"{URL}/{alias['id']}").get_json()
    assert shown["status"] == "placed"
    assert shown["created_at"] == alias["created_at"] <= shown["placed_at"]
    assert client.get(f"{URL}/not-an-id-of-anything").status_code == 404


def test_the_cap_counts_the_numbers_an_address_was_answered_an_alias_for(
    make_app: Callable[..., Flask],
) -> None:
    """Else a seen number would leave room under the cap that an unseen one takes: an oracle."""
    app = make_app(max_numbers_per_ip=2)
    post(app, VICTIM)
    assert post(app, STRANGER).status_code == 202  # an alias
    assert post(app, STRANGER, "+380671110001").status_code == 202
    capped = post(app, STRANGER, "+380671110002")
    assert assert_problem(capped, 429)["code"] == "too_many_numbers"


def test_purge_forgets_the_address_of_old_aliases(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    post(app, VICTIM)
    post(app, STRANGER)
    cli(app, "leads", "purge", "--older-than", "0s")
    with services(app).store.engine.connect() as conn:
        rows = conn.execute(select(ALIASES.c.client_ip, ALIASES.c.created_at)).all()
    assert [ip for ip, _ in rows] == [None] and rows[0][1] <= utcnow()


def test_repeats_take_nothing_from_the_numbers_rate_limit(make_app: Callable[..., Flask]) -> None:
    """A repeat calls nobody, so it is not counted against the number, whoever sends it: the
    limit then cannot count, for a stranger, how often others asked for the number."""
    app = make_app(limit_per_phone="2/hour", limit_per_ip="100/minute")
    victims = post(app, VICTIM).get_json()["id"]
    strangers = [post(app, f"203.0.113.{n}") for n in range(1, 6)]
    assert {answer.status_code for answer in strangers} == {202}
    assert post(app, VICTIM).get_json()["id"] == victims  # its own double click: 200
    # Another number from the same addresses is counted as ever.
    assert post(app, STRANGER, "+380671112299").status_code == 202


def test_a_repeat_of_a_number_already_called_is_answered_as_a_fresh_acceptance(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    post(app, VICTIM)
    while services(app).dispatcher.run_once():
        pass
    fresh = post(app, "203.0.113.50", "+380671112299").get_json()
    alias = post(app, STRANGER).get_json()
    assert sorted(alias) == sorted(fresh) and alias["status"] == fresh["status"] == "queued"
