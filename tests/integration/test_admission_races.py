"""The caps, the daily budget, the per-number limit and de-duplication under attack: many
simultaneous posts (threads released together by a barrier), on SQLite and on PostgreSQL.

Each of these was check-then-insert: every request read the count, then all stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from service.leads.model import LeadStatus
from tests.conftest import services
from tests.fakes.provider import FakeProvider

URL = "/api/v1/callbacks"
POSTS = 16
VICTIM = "198.51.100.200"
NUMBER = "+380671112233"


@pytest.fixture(params=["sqlite", "postgres"])
def racing_app(
    request: pytest.FixtureRequest, make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> Iterator[Callable[..., Flask]]:
    """``make_app`` on the parametrised database, calling the loopback provider, with the
    defences this module is not about opened wide."""

    def make(**overrides: Any) -> Flask:
        if request.param == "postgres":
            overrides.setdefault("database_url", request.getfixturevalue("pg_database"))
        settings: dict[str, Any] = {
            "provider": "ringostat",
            "ringostat": {"api_url": fake_provider.url},
            "limit_per_ip": "1000/minute",
            "limit_per_phone": "1000/hour",
            "limit_global": "1000/hour",
            "limit_per_country": "1000/hour",
            "max_numbers_per_ip": 0,
            "daily_call_budget": 0,
            "dedupe_window": 0,
        }
        return make_app(**{**settings, **overrides})

    yield make


def race(app: Flask, posts: list[tuple[str, str]]) -> list[TestResponse]:
    """Post every (number, address) at the same instant, each from its own thread."""
    barrier = threading.Barrier(len(posts))
    answers: list[TestResponse | None] = [None] * len(posts)

    def post(index: int, phone: str, address: str) -> None:
        client = app.test_client()
        barrier.wait(timeout=30)
        answers[index] = client.post(
            URL, json={"phone": phone}, environ_base={"REMOTE_ADDR": address}
        )

    threads = [
        threading.Thread(target=post, args=(index, phone, address))
        for index, (phone, address) in enumerate(posts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(answer is not None for answer in answers), "a post never returned"
    return [answer for answer in answers if answer is not None]


def post(app: Flask, phone: str, address: str) -> TestResponse:
    return app.test_client().post(URL, json={"phone": phone}, environ_base={"REMOTE_ADDR": address})


def dispatch_all(app: Flask) -> None:
    while services(app).dispatcher.run_once():
        pass


def codes(answers: list[TestResponse]) -> list[int]:
    return sorted(answer.status_code for answer in answers)


def test_16_numbers_at_once_from_one_address_with_a_cap_of_3_store_exactly_3(
    racing_app: Callable[..., Flask],
) -> None:
    app = racing_app(max_numbers_per_ip=3)
    answers = race(app, [(f"+3806711122{n:02d}", "203.0.113.7") for n in range(POSTS)])
    assert codes(answers) == [202] * 3 + [429] * (POSTS - 3)
    refused = [a.get_json()["code"] for a in answers if a.status_code == 429]
    assert set(refused) == {"too_many_numbers"}
    assert len(services(app).store.search()) == 3


def test_16_leads_at_once_against_a_budget_of_5_queue_5_and_hold_the_rest(
    racing_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    app = racing_app(daily_call_budget=5)
    answers = race(app, [(f"+3806711122{n:02d}", f"203.0.113.{n + 1}") for n in range(POSTS)])
    assert codes(answers) == [202] * POSTS  # held, never lost
    statuses = sorted(a.get_json()["status"] for a in answers)
    assert statuses == ["held"] * (POSTS - 5) + ["queued"] * 5
    dispatch_all(app)
    assert services(app).store.count_by_status() == {"placed": 5, "held": POSTS - 5}
    assert sum(fake_provider.accepted.values()) == 5


# Headers whose value differs between any two answers (checked apart, or per request).
_OWN_VALUES = ("Location", "X-Request-Id")


def headers(answer: TestResponse) -> list[tuple[str, str]]:
    """Every header, with the value of those that are per request left out."""
    return sorted(
        (name, "" if name in _OWN_VALUES else value) for name, value in answer.headers.items()
    )


def _shape(answer: TestResponse) -> tuple[Any, ...]:
    """Everything a client can compare between two acceptances, ids and times aside."""
    body = answer.get_json()
    assert answer.headers["Location"] == f"{URL}/{body['id']}"
    return (answer.status_code, sorted(body), body["status"], headers(answer))


def test_a_number_another_visitor_asked_for_is_called_once_and_never_shown(
    racing_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    app = racing_app(dedupe_window=600)
    victim = post(app, NUMBER, VICTIM)
    assert victim.status_code == 202
    victims_id = victim.get_json()["id"]
    fresh = post(app, "+380671112299", "203.0.113.99")  # what a fresh acceptance looks like

    answers = race(app, [(NUMBER, f"203.0.113.{n + 1}") for n in range(POSTS)])

    ids = {answer.get_json()["id"] for answer in answers}
    assert len(ids) == POSTS and victims_id not in ids
    for answer in answers:
        assert victims_id not in answer.get_data(as_text=True)
        assert victims_id not in str(answer.headers)
        assert _shape(answer) == _shape(fresh)
    leads = [lead for lead in services(app).store.search() if lead.phone == NUMBER]
    assert [lead.id for lead in leads] == [victims_id]

    dispatch_all(app)
    assert fake_provider.accepted["380671112233"] == 1
    # Each id reads as its own lead would: its own time, the one call's progress.
    fresh_status = app.test_client().get(f"{URL}/{fresh.get_json()['id']}")
    for answer in answers:
        mine = answer.get_json()
        status = app.test_client().get(f"{URL}/{mine['id']}")
        assert status.status_code == 200
        body = status.get_json()
        assert sorted(body) == sorted(fresh_status.get_json())
        assert (body["id"], body["status"]) == (mine["id"], LeadStatus.PLACED)
        assert body["created_at"] == mine["created_at"] <= body["placed_at"]
        assert victims_id not in status.get_data(as_text=True)
        assert headers(status) == headers(fresh_status)


def test_the_cap_refuses_a_number_others_asked_for_as_it_refuses_any_other(
    racing_app: Callable[..., Flask],
) -> None:
    """No 429-versus-200 oracle: with its cap used up, an address learns nothing about
    whether a number asked for a callback just now."""
    app = racing_app(dedupe_window=600, max_numbers_per_ip=2)
    assert post(app, NUMBER, VICTIM).status_code == 202
    attacker = "203.0.113.66"
    assert post(app, "+380671110001", attacker).status_code == 202
    assert post(app, "+380671110002", attacker).status_code == 202

    asked, unasked = race(app, [(NUMBER, attacker), ("+380671119999", attacker)])

    assert asked.status_code == unasked.status_code == 429
    first, second = asked.get_json(), unasked.get_json()
    assert first.pop("request_id") != second.pop("request_id")
    assert first == second and first["code"] == "too_many_numbers"
    assert headers(asked) == headers(unasked)
