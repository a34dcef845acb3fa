"""Per-IP limits count an IPv6 subscriber's whole network (a /64 by default), not each of its
2^64 addresses; IPv4 clients by their address."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from service.config import ClientAddressSettings
from tests.api.test_callbacks import assert_problem

URL = "/api/v1/callbacks"


def _post(app: Flask, ip: str, n: int) -> int:
    response = app.test_client().post(
        URL, json={"phone": f"+38067{1000000 + n:07d}"}, environ_base={"REMOTE_ADDR": ip}
    )
    if response.status_code == 429:
        assert_problem(response, 429)
    return response.status_code


def test_addresses_of_one_ipv6_64_share_one_per_ip_budget(make_app: Callable[..., Flask]) -> None:
    app = make_app(limit_per_ip="5/minute", dedupe_window=0)
    # Six addresses an attacker rotates through inside the /64 its provider gave it.
    statuses = [_post(app, f"2001:db8:1:2:{n:x}::{n + 1:x}", n) for n in range(6)]
    assert statuses == [202] * 5 + [429]
    # The neighbouring /64 is someone else.
    assert _post(app, "2001:db8:1:3::1", 10) == 202


def test_an_ipv4_mapped_address_counts_as_its_ipv4_address(make_app: Callable[..., Flask]) -> None:
    app = make_app(limit_per_ip="2/minute", dedupe_window=0)
    assert _post(app, "203.0.113.9", 0) == 202
    assert _post(app, "::ffff:203.0.113.9", 1) == 202
    assert _post(app, "203.0.113.9", 2) == 429
    assert _post(app, "203.0.113.10", 3) == 202


def test_the_prefix_length_is_configurable(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        limit_per_ip="2/minute",
        dedupe_window=0,
        client_address=ClientAddressSettings(ipv6_prefix=48),
    )
    assert _post(app, "2001:db8:1:2::1", 0) == 202
    assert _post(app, "2001:db8:1:ffff::1", 1) == 202  # another /64, the same /48
    assert _post(app, "2001:db8:1:9::1", 2) == 429
    assert _post(app, "2001:db8:2::1", 3) == 202
