"""Routing's small parts: numbers from Ringostat, destinations, turns, a Redis that is down."""

from __future__ import annotations

import itertools

import pytest
import redis

from service.agents import Snapshot
from service.destinations import destination
from service.routing import RoutedLedger, caller_e164
from service.shared import Shared
from tests.servers import free_port


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("380671112233", "+380671112233"),
        ("+380671112233", "+380671112233"),
        ("%2B380671112233", "+380671112233"),
        ("0671112233", "+380671112233"),
        ("(067) 111-22-33", "+380671112233"),
        ("14155552671", "+14155552671"),
        ("", None),
        (None, None),
        ("anonymous", None),
        ("12345", None),
    ],
)
def test_caller_numbers_as_ringostat_sends_them(given: str | None, expected: str | None) -> None:
    assert caller_e164(given, "UA") == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("+380 44 123-45-67", "380441234567"),
        ("380441234567", "380441234567"),
        ("supportrngst_manager1", "supportrngst_manager1"),
        ("101", "101"),
        ("agent.7@example", "agent.7@example"),
    ],
)
def test_destinations(given: str, expected: str) -> None:
    assert destination(given) == expected


@pytest.mark.parametrize("given", ["", "two words", "+38 (044)", "a" * 80, "<script>"])
def test_bad_destinations(given: str) -> None:
    with pytest.raises(ValueError, match="international format"):
        destination(given)


def test_turns_in_one_process() -> None:
    ticks = itertools.count(1)
    ledger = RoutedLedger(clock=lambda: float(next(ticks)))
    assert [ledger.pick(["a", "b", "c"]) for _ in range(4)] == ["a", "b", "c", "a"]
    assert ledger.pick(["c", "b"]) == "b"  # b's turn is older than c's


def test_a_redis_that_is_down_costs_one_timeout_then_nothing() -> None:
    shared = Shared(f"redis://127.0.0.1:{free_port()}/0")
    calls: list[str] = []

    def action(_: object) -> str:
        calls.append("tried")
        raise redis.ConnectionError("down")

    assert shared.call("test", action) is None
    assert shared.call("test", action) is None  # paused: not tried again
    assert calls == ["tried"]
    ledger = RoutedLedger(shared)
    assert [ledger.pick(["a", "b"]) for _ in range(3)] == ["a", "b", "a"]


def test_a_garbled_shared_snapshot_is_ignored() -> None:
    assert Snapshot.loads("{not json") is None
    assert Snapshot.loads('{"online": ["a"]}') is None
    snapshot = Snapshot(frozenset({"a"}), frozenset(), 12.5)
    assert Snapshot.loads(snapshot.dumps()) == snapshot
