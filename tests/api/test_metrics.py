"""``GET /metrics``: who may read it, and what the counters and gauges say (one process).

The process's own counters live as long as the test session, so each test compares a scrape
taken after its actions with one taken before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from service.config import MetricsSettings
from service.leads.model import Task, utcnow
from tests.conftest import services
from tests.fakes.provider import FakeProvider
from tests.servers import free_port

URL = "/api/v1/callbacks"
TOKEN = "metrics-token-0123456789"
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: FlaskClient, **kwargs: object) -> Samples:
    response = client.get("/metrics", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return parse(response.get_data(as_text=True))


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _app(make_app: Callable[..., Flask], fake: FakeProvider, **overrides: object) -> Flask:
    return make_app(
        provider="ringostat",
        ringostat={"api_url": fake.url},
        dedupe_window=0,
        limit_per_ip="1000/minute",
        limit_per_phone="1000/minute",
        **overrides,
    )


def test_loopback_reads_every_metric(client: FlaskClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "callgate_tasks",
        "callgate_tasks_oldest_due_age_seconds",
        "callgate_daily_budget_calls",
        "callgate_daily_budget_used_ratio",
        "callgate_ratelimit_storage_degraded",
        # Families are named without _total; the samples carry it.
        "callgate_deliveries_failed",
    } <= names
    samples = parse(response.text)
    # Present before the first failure, so that increase() has a start.
    for kind in ("webhook", "notify", "ga4"):
        assert ("callgate_deliveries_failed_total", (("kind", kind),)) in samples


def test_others_get_404_without_the_token(make_app: Callable[..., Flask]) -> None:
    app = make_app(metrics=MetricsSettings(token=TOKEN))
    client = app.test_client()
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": TOKEN},
    ):
        response = client.get("/metrics", headers=headers, environ_base=ELSEWHERE)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert TOKEN not in response.get_data(as_text=True)
    response = client.get(
        "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=ELSEWHERE
    )
    assert response.status_code == 200


def test_allow_list_decides_without_a_token(make_app: Callable[..., Flask]) -> None:
    app = make_app(metrics=MetricsSettings(allow=("203.0.113.0/24",)))
    client = app.test_client()
    assert client.get("/metrics", environ_base=ELSEWHERE).status_code == 200
    assert client.get("/metrics").status_code == 404  # loopback is no longer listed
    # No token configured: a bearer header opens nothing.
    other = {"REMOTE_ADDR": "198.51.100.1"}
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer "}, environ_base=other).status_code
        == 404
    )


def test_accepted_and_refused_by_code(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    client = _app(make_app, fake_provider).test_client()
    before = scrape(client)
    assert client.post(URL, json={"phone": "0671112233"}).status_code == 202
    assert client.post(URL, json={"phone": "0671112244"}).status_code == 202
    assert client.post(URL, json={"phone": "12"}).status_code == 422
    assert client.post(URL, json={"phone": "0671112233", "website": "x"}).status_code == 422
    assert client.post(URL, data=b"{", content_type="application/json").status_code == 400
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("callgate_leads_accepted_total", status="queued") == 2
    assert delta("callgate_leads_refused_total", code="honeypot") == 1
    assert delta("callgate_leads_refused_total", code="malformed_json") == 1
    refused = sum(
        v - before.get(k, 0.0) for k, v in after.items() if k[0] == "callgate_leads_refused_total"
    )
    assert refused == 3
    visitor = {"endpoint": "callbacks.create"}
    assert delta("callgate_http_request_duration_seconds_count", **visitor) == 5
    assert value(after, "callgate_tasks", kind="place_call", state="due") == 2


def test_a_repeat_is_not_counted_as_a_new_lead(make_app: Callable[..., Flask]) -> None:
    """Another client's repeat is answered by an alias as a fresh acceptance would be (202, an
    id of its own), and its own repeat by its lead: neither is a new lead in the count."""
    app = make_app()  # de-duplication on
    client = app.test_client()
    before = scrape(client)
    body = {"phone": "0671112255"}
    assert client.post(URL, json=body).status_code == 202
    alias = client.post(URL, json=body, environ_base=ELSEWHERE)
    assert alias.status_code == 202
    assert client.post(URL, json=body, environ_base=ELSEWHERE).get_json() == alias.get_json()
    after = scrape(client)
    accepted = value(after, "callgate_leads_accepted_total", status="queued")
    assert accepted - value(before, "callgate_leads_accepted_total", status="queued") == 1
    assert len(services(app).store.search()) == 1


def test_dispatch_counts_outcomes_speed_and_provider_time(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    app = _app(make_app, fake_provider)
    client = app.test_client()
    before = scrape(client)
    for phone in ("0671112233", "0671112244"):
        assert client.post(URL, json={"phone": phone}).status_code == 202
    fake_provider.set(statuses=[200, 401])
    dispatcher = services(app).dispatcher
    assert dispatcher.run_once() and dispatcher.run_once()
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("callgate_call_outcomes_total", provider="ringostat", outcome="placed") == 1
    assert delta("callgate_call_outcomes_total", provider="ringostat", outcome="failed") == 1
    assert delta("callgate_speed_to_lead_seconds_count", provider="ringostat") == 1
    assert (
        delta("callgate_provider_request_duration_seconds_count", provider="ringostat", result="ok")
        == 1
    )
    assert (
        delta(
            "callgate_provider_request_duration_seconds_count", provider="ringostat", result="error"
        )
        == 1
    )
    assert value(after, "callgate_provider_config_fault", provider="ringostat") == 1
    assert value(after, "callgate_tasks", kind="place_call", state="due") == 0

    fake_provider.set(statuses=[200])
    assert client.post(URL, json={"phone": "0671112255"}).status_code == 202
    assert dispatcher.run_once()
    assert value(scrape(client), "callgate_provider_config_fault", provider="ringostat") == 0


def test_queue_states_and_the_oldest_due_task(app: Flask, client: FlaskClient) -> None:
    store = services(app).store
    now = utcnow()
    rows = [
        ("place_call", "pending", now - timedelta(seconds=90)),
        ("place_call", "pending", now - timedelta(seconds=10)),
        ("place_call", "pending", now + timedelta(minutes=5)),
        ("place_call", "running", now - timedelta(seconds=1)),
        ("deliver_webhook", "pending", now - timedelta(seconds=30)),
        ("deliver_webhook", "done", now - timedelta(hours=1)),
        ("deliver_webhook", "failed", now - timedelta(hours=1)),
    ]
    with store.engine.begin() as conn:
        conn.execute(
            insert(Task.__table__),
            [{"kind": k, "state": s, "due_at": due, "created_at": now} for k, s, due in rows],
        )
    samples = scrape(client)
    assert value(samples, "callgate_tasks", kind="place_call", state="due") == 2
    assert value(samples, "callgate_tasks", kind="place_call", state="scheduled") == 1
    assert value(samples, "callgate_tasks", kind="place_call", state="running") == 1
    assert value(samples, "callgate_tasks", kind="deliver_webhook", state="due") == 1
    assert ("callgate_tasks", (("kind", "recheck_agents"), ("state", "due"))) in samples
    oldest = value(samples, "callgate_tasks_oldest_due_age_seconds", kind="place_call")
    assert 90 <= oldest < 90 + 60  # the scrape came after the insert, well within a minute
    webhook = value(samples, "callgate_tasks_oldest_due_age_seconds", kind="deliver_webhook")
    assert 30 <= webhook < 30 + 60


def test_daily_budget_used(make_app: Callable[..., Flask], fake_provider: FakeProvider) -> None:
    client = _app(make_app, fake_provider, daily_call_budget=4).test_client()
    assert value(scrape(client), "callgate_daily_budget_used_ratio") == 0
    assert client.post(URL, json={"phone": "0671112233"}).status_code == 202
    samples = scrape(client)
    assert value(samples, "callgate_daily_budget_calls") == 4
    assert value(samples, "callgate_daily_budget_used_ratio") == 0.25


def test_rate_limit_storage_degraded(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    assert value(scrape(client), "callgate_ratelimit_storage_degraded") == 0
    nobody = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    client = make_app(ratelimit_storage_url=nobody).test_client()
    assert value(scrape(client), "callgate_ratelimit_storage_degraded") == 1
