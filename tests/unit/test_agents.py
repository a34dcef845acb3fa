"""The agent monitor against a loopback Ringostat SIP-status API, with a clock the test moves."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from service.agents import AgentMonitor, Snapshot, agents_available, fetch_from
from service.config import AgentSettings, RingostatSettings
from service.providers.base import HttpClient
from service.providers.sipstatus import SipStatusClient
from tests.conftest import services
from tests.fakes.sipstatus import FakeSipStatus
from tests.servers import free_port, wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sip() -> Iterator[FakeSipStatus]:
    fake = FakeSipStatus().start()
    yield fake
    fake.stop()


def _monitor(api_url: str, clock: Callable[[], float], **agents: object) -> AgentMonitor:
    """A monitor on the test's clock: snapshots are stamped with it, and aged by it."""
    settings = AgentSettings(**agents)  # type: ignore[arg-type]
    client = SipStatusClient(
        RingostatSettings(api_url=api_url, auth_key="k" * 16, project_id="1"),
        settings,
        HttpClient(1.0, 2.0),
    )
    return AgentMonitor(
        fetch_from(client, clock),
        ttl=settings.status_ttl,
        max_age=settings.status_max_age,
        clock=clock,
    )


def test_free_agents_are_online_and_not_speaking() -> None:
    snapshot = Snapshot(frozenset({"a", "b", "c"}), frozenset({"b", "x"}), 0.0)
    assert snapshot.free() == ["a", "c"]
    assert snapshot.free(("c", "b", "z", "a")) == ["c", "a"]


def test_nothing_cached_answers_none_at_once_and_fetches_behind(sip: FakeSipStatus) -> None:
    sip.agents(online=["a", "b"], speaking=["a"])
    monitor = _monitor(sip.url, Clock())
    sip.behave(delay=0.3)
    assert monitor.current() is None  # did not wait for the slow API
    wait_until(lambda: monitor.current() is not None, 5, "background refresh")
    snapshot = monitor.current()
    assert snapshot is not None and snapshot.free() == ["b"]
    paths = sorted(r.path for r in sip.received)
    assert paths == ["/sipstatus/online", "/sipstatus/speaking"]


def test_a_stale_snapshot_is_served_while_one_refresh_runs(sip: FakeSipStatus) -> None:
    clock = Clock()
    sip.agents(online=["a"])
    monitor = _monitor(sip.url, clock, status_ttl=5.0, status_max_age=30.0)
    assert monitor.refresh() is not None
    sip.agents(online=["b"])
    sip.behave(delay=0.3)
    clock.now += 6  # stale, still usable
    served = [monitor.current() for _ in range(20)]
    assert all(s is not None and s.online == {"a"} for s in served)
    wait_until(lambda: monitor.current().online == {"b"}, 5, "refreshed")  # type: ignore[union-attr]
    assert len(sip.received) == 4  # one refresh (two requests), not twenty


def test_too_old_is_unknown_and_failures_keep_the_last_answer(sip: FakeSipStatus) -> None:
    clock = Clock()
    sip.agents(online=["a"])
    monitor = _monitor(sip.url, clock, status_ttl=5.0, status_max_age=30.0)
    monitor.refresh()
    sip.behave(statuses=[503])
    clock.now += 10
    snapshot = monitor.refresh()
    assert snapshot is not None and snapshot.online == {"a"}  # kept
    clock.now += 25
    assert monitor.current() is None  # 35 s old: unusable


def test_current_or_fetch_waits_only_when_nothing_is_usable(sip: FakeSipStatus) -> None:
    sip.agents(online=["a"])
    monitor = _monitor(sip.url, Clock())
    snapshot = monitor.current_or_fetch()
    assert snapshot is not None and snapshot.online == {"a"}


def test_an_unreachable_api_is_unknown_not_an_error() -> None:
    monitor = _monitor(f"http://127.0.0.1:{free_port()}", Clock())
    assert monitor.current_or_fetch() is None


def test_the_poller_keeps_the_snapshot_warm(sip: FakeSipStatus) -> None:
    sip.agents(online=["a"])
    monitor = _monitor(sip.url, time.time, status_ttl=0.2, status_max_age=1.0)
    monitor.start()
    try:
        wait_until(lambda: len(sip.received) >= 6, 10, "three refreshes")
    finally:
        monitor.stop()


# -- agents_available, as GET /api/v1/widget-config will call it --------------------------------


def test_agents_available_without_ringostat_is_true(make_app: Callable[..., Flask]) -> None:
    app = make_app(ringostat={"auth_key": ""})
    assert services(app).agents is None
    assert agents_available(None, ()) is True
    assert agents_available(services(app).agents, ("manager1",)) is True


def test_agents_available_follows_the_sip_status(
    make_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=["a", "b"], speaking=["a", "b"])
    app = make_app(ringostat={"api_url": sip.url})
    monitor = services(app).agents
    assert monitor is not None
    assert agents_available(monitor, ()) is False  # nothing known yet; a refresh starts behind
    wait_until(lambda: len(sip.received) >= 2, 5, "status fetched")
    wait_until(lambda: monitor.current() is not None, 5, "status cached")
    assert agents_available(monitor, ()) is False  # everyone is speaking
    sip.agents(online=["a", "b"], speaking=["a"])
    monitor.refresh(fresh_for=0)
    assert agents_available(monitor, ()) is True


def test_agents_available_counts_only_the_given_logins(sip: FakeSipStatus) -> None:
    sip.agents(online=["someone_else"])
    monitor = _monitor(sip.url, Clock())
    assert monitor.refresh() is not None
    assert agents_available(monitor, ("manager1",)) is False
    assert agents_available(monitor, ()) is True  # no logins configured: anyone counts
    sip.agents(online=["someone_else", "manager1"])
    monitor.refresh(fresh_for=0)
    assert agents_available(monitor, ("manager1",)) is True


def test_widget_config_counts_only_the_configured_logins(
    make_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=["someone_else"])
    app = make_app(ringostat={"api_url": sip.url}, agents=AgentSettings(logins=("manager1",)))
    monitor = services(app).agents
    assert monitor is not None and monitor.refresh() is not None
    config = app.test_client().get("/api/v1/widget-config")
    assert config.get_json()["agents_available"] is False
    sip.agents(online=["someone_else", "manager1"])
    monitor.refresh(fresh_for=0)
    config = app.test_client().get("/api/v1/widget-config")
    assert config.get_json()["agents_available"] is True
