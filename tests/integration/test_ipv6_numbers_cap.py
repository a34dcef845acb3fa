"""The distinct-numbers-per-address cap counts an IPv6 subscriber's whole network (a /64 by
default, ``CALLGATE_IPV6_PREFIX``), as the per-address rate limits do: an attacker rotating
through the 2^64 addresses of its /64 gets one cap, not one per address. On SQLite and on
PostgreSQL, one request at a time and all at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from service.config import ClientAddressSettings
from service.leads.admission import ALIASES, LEADS
from tests.api.test_callbacks import assert_problem
from tests.api.test_defences import cli
from tests.conftest import services
from tests.integration.test_admission_races import POSTS, codes, post, race

CAP = 3
NUMBER = "+380671112233"


def subnet(n: int) -> str:
    """The ``n``-th address an attacker picks inside the /64 ``2001:db8:1:2::/64``."""
    return f"2001:db8:1:2:{n:x}:{n * 7:x}::{n + 1:x}"


def number(n: int) -> str:
    return f"+3806711100{n:02d}"


@pytest.fixture(params=["sqlite", "postgres"])
def capped_app(
    request: pytest.FixtureRequest, make_app: Callable[..., Flask]
) -> Callable[..., Flask]:
    """``make_app`` on the parametrised database with a cap of 3 numbers, the defences this
    module is not about opened wide."""

    def make(**overrides: Any) -> Flask:
        if request.param == "postgres":
            overrides.setdefault("database_url", request.getfixturevalue("pg_database"))
        settings: dict[str, Any] = {
            "max_numbers_per_ip": CAP,
            "limit_per_ip": "1000/minute",
            "limit_per_phone": "1000/hour",
            "limit_global": "1000/hour",
            "limit_per_country": "1000/hour",
            "daily_call_budget": 0,
            "dedupe_window": 0,
        }
        return make_app(**{**settings, **overrides})

    return make


def refused(app: Flask, phone: str, address: str) -> None:
    answer = post(app, phone, address)
    assert assert_problem(answer, 429)["code"] == "too_many_numbers"


def test_four_numbers_from_four_addresses_of_one_64_the_fourth_is_refused(
    capped_app: Callable[..., Flask],
) -> None:
    app = capped_app()
    for n in range(CAP):
        assert post(app, number(n), subnet(n)).status_code == 202
    refused(app, number(CAP), subnet(CAP))
    # The neighbouring /64 is another subscriber; its numbers are its own.
    assert post(app, number(CAP), "2001:db8:1:3::1").status_code == 202
    # IPv4 clients are still one address each.
    for n in range(CAP):
        assert post(app, number(10 + n), "203.0.113.7").status_code == 202
    refused(app, number(20), "203.0.113.7")
    assert post(app, number(20), "203.0.113.8").status_code == 202
    # The address itself is stored as it was (attribution and export keep it).
    with services(app).store.engine.connect() as conn:
        stored = set(conn.execute(select(LEADS.c.client_ip, LEADS.c.client_key)).all())
    assert (subnet(0), "2001:db8:1:2::/64") in stored
    assert ("203.0.113.7", "203.0.113.7") in stored


def test_numbers_answered_by_an_alias_count_for_the_whole_64(
    capped_app: Callable[..., Flask],
) -> None:
    """A repeat of somebody else's number from one address of the /64 uses up the cap of
    every address in it, as a lead does."""
    app = capped_app(dedupe_window=600)
    assert post(app, NUMBER, "198.51.100.1").status_code == 202  # the victim's own lead
    assert post(app, NUMBER, subnet(0)).status_code == 202  # answered by an alias
    assert post(app, number(1), subnet(1)).status_code == 202
    assert post(app, number(2), subnet(2)).status_code == 202
    refused(app, number(3), subnet(3))
    with services(app).store.engine.connect() as conn:
        aliases = conn.execute(select(ALIASES.c.client_ip, ALIASES.c.client_key)).all()
    assert aliases == [(subnet(0), "2001:db8:1:2::/64")]


def test_16_numbers_at_once_from_16_addresses_of_one_64_store_at_most_the_cap(
    capped_app: Callable[..., Flask],
) -> None:
    app = capped_app()
    answers = race(app, [(number(n), subnet(n)) for n in range(POSTS)])
    assert codes(answers) == [202] * CAP + [429] * (POSTS - CAP)
    assert {a.get_json()["code"] for a in answers if a.status_code == 429} == {"too_many_numbers"}
    assert len(services(app).store.search()) == CAP


def test_a_prefix_of_48_counts_the_whole_48_as_one_client(
    capped_app: Callable[..., Flask],
) -> None:
    app = capped_app(client_address=ClientAddressSettings(ipv6_prefix=48))
    addresses = ["2001:db8:1:2::1", "2001:db8:1:ffff::1", "2001:db8:1:9::1"]  # three /64s
    for n, address in enumerate(addresses):
        assert post(app, number(n), address).status_code == 202
    refused(app, number(CAP), "2001:db8:1:abcd::99")
    assert post(app, number(CAP), "2001:db8:2::1").status_code == 202  # the next /48


def test_purge_forgets_the_network_with_the_address(capped_app: Callable[..., Flask]) -> None:
    """An IPv4 client's key is its address: it goes where the address goes."""
    app = capped_app(dedupe_window=600)
    post(app, NUMBER, "198.51.100.1")
    post(app, NUMBER, "203.0.113.9")  # an alias
    assert services(app).dispatcher.run_once()  # placed: purge takes only leads called or ended
    cli(app, "leads", "purge", "--older-than", "0s")
    with services(app).store.engine.connect() as conn:
        leads = conn.execute(select(LEADS.c.client_ip, LEADS.c.client_key)).all()
        aliases = conn.execute(select(ALIASES.c.client_ip, ALIASES.c.client_key)).all()
    assert leads == [(None, None)] and aliases == [(None, None)]
