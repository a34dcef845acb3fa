"""The one-line calls the service makes into ``service.metrics`` (this process's registry)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service import metrics
from service.leads.model import utcnow


def _value(name: str, **labels: str) -> float:
    found = metrics.registry().get_sample_value(name, labels)
    return found or 0.0


def test_a_tracked_call_ends_connected_or_not() -> None:
    before = {
        o: _value("callgate_call_outcomes_total", provider="rc", outcome=o)
        for o in ("connected", "not_connected")
    }
    metrics.call_ended("rc", "connected")
    metrics.call_ended("rc", "failed")
    metrics.call_ended("rc", "failed")
    for outcome, added in (("connected", 1), ("not_connected", 2)):
        now = _value("callgate_call_outcomes_total", provider="rc", outcome=outcome)
        assert now - before[outcome] == added


def test_speed_to_lead_is_observed_for_placed_calls_only() -> None:
    name = "callgate_speed_to_lead_seconds"
    count, total = _value(name + "_count", provider="sp"), _value(name + "_sum", provider="sp")
    metrics.call_outcome("sp", "placed", utcnow() - timedelta(seconds=3))
    metrics.call_outcome("sp", "retry", utcnow() - timedelta(seconds=3))
    assert _value(name + "_count", provider="sp") == count + 1
    assert 3 <= _value(name + "_sum", provider="sp") - total < 60


def test_an_unexpected_label_value_is_counted_as_other_not_raised() -> None:
    before = _value("callgate_call_outcomes_total", provider="x", outcome="other")
    metrics.call_outcome("x", "exploded")
    assert _value("callgate_call_outcomes_total", provider="x", outcome="other") == before + 1
    before = _value("callgate_deliveries_failed_total", kind="other")
    metrics.delivery_failed("carrier-pigeon")
    metrics.delivery_failed("webhook")
    assert _value("callgate_deliveries_failed_total", kind="other") == before + 1


def test_provider_call_times_failures_and_lets_them_through() -> None:
    name = "callgate_provider_request_duration_seconds_count"
    before = _value(name, provider="pc", result="error")

    def place(_: object) -> None:
        raise TimeoutError("no answer")

    with pytest.raises(TimeoutError):
        metrics.provider_call("pc", place, object())
    assert _value(name, provider="pc", result="error") == before + 1
    assert metrics.provider_call("pc", lambda n: n * 2, 21) == 42


def test_a_delivery_task_that_gave_up_is_a_failed_delivery() -> None:
    before = {k: _value("callgate_deliveries_failed_total", kind=k) for k in ("webhook", "ga4")}
    metrics.task_gave_up("deliver_webhook")
    metrics.task_gave_up("send_ga4_event")
    metrics.task_gave_up("place_call")  # a call is counted by its outcome, not here
    for kind in ("webhook", "ga4"):
        assert _value("callgate_deliveries_failed_total", kind=kind) == before[kind] + 1
