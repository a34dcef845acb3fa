"""``/api/v1/ringostat/route``: every way Ringostat sends, every way it reads, every rule.

Ringostat (SIP status and callback API) is a loopback fake; leads are made and placed the way
the product does it (POST /api/v1/callbacks, then the dispatcher).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.test import TestResponse

from service.config import AgentSettings, RouteSettings
from service.leads import Lead
from service.leads.model import utcnow
from tests.conftest import services
from tests.fakes.sipstatus import FakeSipStatus
from tests.servers import free_port, wait_until

TOKEN = "route-token-0123456789abcdef"
URL = "/api/v1/ringostat/route"
VISITOR = "380671112233"
FALLBACK = "380441234567"

# The reference's request, as Ringostat sent it (method POST, data type JSON).
REFERENCE_BODY = (
    b'{"call_id":"pkv","step_forward":"webhookNumber%3A120",'
    b'"uuid":"842d921d-5334-4eca-812d-9a478dc8c884","google_id":"UA-38222689-2"}'
)
REFERENCE_HEADERS = {
    "Origin": "api.asterisk",
    "User-Agent": "ringostat HTTP Client v1.1",
    "Content-Type": "application/json",
    "Content-Length": "128",
    "Connection": "close",
}


@pytest.fixture(scope="module")
def sip_server() -> Iterator[FakeSipStatus]:
    fake = FakeSipStatus().start()
    yield fake
    fake.stop()


@pytest.fixture
def sip(sip_server: FakeSipStatus) -> FakeSipStatus:
    """The module's fake, reset: answering 200, nobody online, nothing received."""
    sip_server.behave()
    sip_server.agents(online=[])
    sip_server.received.clear()
    return sip_server


@pytest.fixture
def route_app(make_app: Callable[..., Flask], sip: FakeSipStatus) -> Iterator[Callable[..., Flask]]:
    """An app with the webhook on, Ringostat faked, the SIP status already fetched once."""
    apps: list[Flask] = []

    def make(route: dict[str, Any] | None = None, **overrides: Any) -> Flask:
        ringostat = {"api_url": sip.url, "callee_type": "sip", "callee": "manager_7"}
        ringostat.update(overrides.pop("ringostat", {}))
        app = make_app(
            provider="ringostat",
            ringostat=ringostat,
            route=RouteSettings(**{"token": TOKEN, "fallback": FALLBACK, **(route or {})}),
            dedupe_window=0,
            **overrides,
        )
        apps.append(app)
        monitor = services(app).agents
        assert monitor is not None
        monitor.refresh()
        return app

    yield make
    for app in apps:
        monitor = services(app).agents
        if monitor is not None:
            monitor.stop()


def _refresh(app: Flask) -> None:
    monitor = services(app).agents
    assert monitor is not None
    monitor.refresh(fresh_for=0)


def _place_callback(app: Flask, phone: str = "067 111 22 33") -> str:
    """A visitor asks for a call and the dispatcher places it, as in production."""
    response = app.test_client().post("/api/v1/callbacks", json={"phone": phone})
    assert response.status_code == 202
    assert services(app).dispatcher.run_once()
    lead_id: str = response.get_json()["id"]
    return lead_id


def _destination(response: TestResponse, key: str = "destination") -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    value: str = response.get_json()[key]
    return value


# -- the reference, byte for byte --------------------------------------------------------------


def test_the_reference_request_is_answered_with_a_free_agent(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(
        online=["supportrngst_manager1", "supportrngst_manager2"],
        speaking=["supportrngst_manager1"],
    )
    app = route_app()
    _refresh(app)
    response = app.test_client().open(
        f"{URL}/{TOKEN}",
        method="POST",
        data=REFERENCE_BODY,
        headers=REFERENCE_HEADERS,
        base_url="http://api.asterisk",
    )
    assert response.status_code == 200
    assert response.get_json() == {"destination": "supportrngst_manager2"}
    assert response.headers["Cache-Control"] == "no-store"
    assert len(REFERENCE_BODY) == 128


def test_the_reference_request_with_the_reference_answer_key(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=[])
    app = route_app(route={"response_key": "number_01", "fallback": "380123456789"})
    response = app.test_client().post(
        f"{URL}/{TOKEN}", data=REFERENCE_BODY, headers=REFERENCE_HEADERS
    )
    assert response.get_data() == b'{"number_01":"380123456789"}\n' or response.get_json() == {
        "number_01": "380123456789"
    }


# -- every method, every way of sending ----------------------------------------------------------


def _send(client: FlaskClient, method: str, how: str, params: dict[str, str]) -> TestResponse:
    if how == "path+query":
        return client.open(f"{URL}/{TOKEN}", method=method, query_string=params)
    if how == "query":
        return client.open(URL, method=method, query_string={"token": TOKEN, **params})
    if how == "headers":
        return client.open(URL, method=method, headers={"token": TOKEN, **params})
    if how == "json":
        return client.open(URL, method=method, json={"token": TOKEN, **params})
    if how == "form":
        return client.open(URL, method=method, data={"token": TOKEN, **params})
    assert how == "jsonrpc"
    body = {"jsonrpc": "2.0", "id": 7, "method": "route", "params": {"token": TOKEN, **params}}
    return client.open(URL, method=method, json=body)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("how", ["path+query", "query", "headers", "json", "form", "jsonrpc"])
def test_every_method_and_format_reads_the_caller(
    route_app: Callable[..., Flask], sip: FakeSipStatus, method: str, how: str
) -> None:
    sip.agents(online=["manager_1", "manager_7"])
    app = route_app()
    _place_callback(app)  # the callback went to manager_7
    client = app.test_client()
    # The visitor calls: sticky to manager_7, which proves the caller parameter was read.
    assert _destination(_send(client, method, how, {"caller": VISITOR})) == "manager_7"
    # Someone else calls: the free agent routed least recently (manager_1, never routed).
    assert _destination(_send(client, method, how, {"caller": "380501234567"})) == "manager_1"


# -- the configured "data import type" -----------------------------------------------------------


def test_http_answer_is_the_bare_destination(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=[])
    app = route_app(route={"response": "http"})
    response = app.test_client().get(f"{URL}/{TOKEN}")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data() == FALLBACK.encode()


def test_jsonrpc_answer_echoes_the_id(route_app: Callable[..., Flask], sip: FakeSipStatus) -> None:
    sip.agents(online=["manager_1"])
    app = route_app(route={"response": "jsonrpc"})
    body = {"jsonrpc": "2.0", "id": "abc-1", "method": "getDestination", "params": {}}
    response = app.test_client().post(f"{URL}/{TOKEN}", json=body)
    assert response.get_json() == {"jsonrpc": "2.0", "id": "abc-1", "result": "manager_1"}


def test_jsonrpc_answer_to_a_plain_request_has_a_null_id(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=[])
    app = route_app(route={"response": "jsonrpc"})
    response = app.test_client().get(f"{URL}/{TOKEN}")
    assert response.get_json() == {"jsonrpc": "2.0", "id": None, "result": FALLBACK}


# -- routing rules ------------------------------------------------------------------------------


def test_sticky_wins_over_free_agents_and_formats_of_the_number(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=["manager_1", "manager_7"], speaking=["manager_7"])
    app = route_app()
    _place_callback(app)
    client = app.test_client()
    for caller in (VISITOR, "+380671112233", "%2B380671112233", "0671112233"):
        response = client.get(f"{URL}/{TOKEN}", query_string={"caller": caller})
        assert _destination(response) == "manager_7", caller


def test_a_number_destination_is_sticky_too(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=["manager_1"])
    app = route_app(ringostat={"callee_type": "number", "callee": "+380 44 777 66 55"})
    _place_callback(app)
    response = app.test_client().get(f"{URL}/{TOKEN}", query_string={"caller": VISITOR})
    assert _destination(response) == "380447776655"


def test_an_old_lead_is_not_sticky(route_app: Callable[..., Flask], sip: FakeSipStatus) -> None:
    sip.agents(online=["manager_1"])
    app = route_app()
    lead_id = _place_callback(app)
    two_days_ago = utcnow() - timedelta(days=2)
    with services(app).store.engine.begin() as conn:
        conn.execute(
            update(Lead)
            .where(Lead.id == lead_id)
            .values(created_at=two_days_ago, placed_at=two_days_ago)
        )
    response = app.test_client().get(f"{URL}/{TOKEN}", query_string={"caller": VISITOR})
    assert _destination(response) == "manager_1"


def test_a_scheme_callback_leaves_no_sticky_destination(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=["manager_1"])
    app = route_app(ringostat={"callee_type": "scheme", "callee": "4242"})
    lead_id = _place_callback(app)
    lead = services(app).store.get(lead_id)
    assert lead is not None and lead.status == "placed" and lead.destination is None
    response = app.test_client().get(f"{URL}/{TOKEN}", query_string={"caller": VISITOR})
    assert _destination(response) == "manager_1"


def test_busy_agents_are_skipped_and_free_ones_take_turns(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=["a_manager", "b_manager", "c_manager"], speaking=["b_manager"])
    app = route_app()
    _refresh(app)
    client = app.test_client()
    got = [_destination(client.get(f"{URL}/{TOKEN}")) for _ in range(4)]
    assert got == ["a_manager", "c_manager", "a_manager", "c_manager"]
    sip.agents(online=["a_manager", "b_manager", "c_manager"], speaking=["a_manager"])
    _refresh(app)
    # b_manager was never routed to: it goes first, then c_manager (older than a_manager).
    assert [_destination(client.get(f"{URL}/{TOKEN}")) for _ in range(2)] == [
        "b_manager",
        "c_manager",
    ]


def test_only_the_configured_agents_are_routed_to(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=["stranger", "manager_2"])
    app = route_app(agents=AgentSettings(logins=("manager_1", "manager_2")))
    assert _destination(app.test_client().get(f"{URL}/{TOKEN}")) == "manager_2"
    sip.agents(online=["stranger"])
    _refresh(app)
    assert _destination(app.test_client().get(f"{URL}/{TOKEN}")) == FALLBACK


def test_everyone_speaking_means_the_fallback(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=["manager_1"], speaking=["manager_1"])
    app = route_app()
    _refresh(app)
    assert _destination(app.test_client().get(f"{URL}/{TOKEN}")) == FALLBACK


def test_unknown_status_means_the_fallback_at_once(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(
        ringostat={"api_url": f"http://127.0.0.1:{free_port()}"},
        route=RouteSettings(token=TOKEN, fallback=FALLBACK),
    )
    try:
        response = app.test_client().get(f"{URL}/{TOKEN}", query_string={"caller": VISITOR})
        assert _destination(response) == FALLBACK
    finally:
        monitor = services(app).agents
        assert monitor is not None
        monitor.stop()


def test_a_stale_status_means_the_fallback(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=["manager_1"])
    app = route_app(agents=AgentSettings(status_ttl=0.1, status_max_age=0.2))
    sip.behave(statuses=[503])  # every refresh fails from now on
    monitor = services(app).agents
    assert monitor is not None
    wait_until(lambda: monitor.current() is None, 5, "the snapshot to age out")
    assert _destination(app.test_client().get(f"{URL}/{TOKEN}")) == FALLBACK


def test_no_fallback_answers_an_empty_destination(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=[])
    app = route_app(route={"fallback": ""})
    assert _destination(app.test_client().get(f"{URL}/{TOKEN}")) == ""


def test_without_ringostat_credentials_the_fallback_still_answers(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(ringostat={"auth_key": ""}, route=RouteSettings(token=TOKEN, fallback=FALLBACK))
    assert services(app).agents is None
    assert _destination(app.test_client().get(f"{URL}/{TOKEN}")) == FALLBACK


# -- authentication -----------------------------------------------------------------------------


def _nothing_here(client: FlaskClient, response: TestResponse, sent: str = "") -> None:
    """The answer is the one any unknown path gets: nothing reveals the endpoint.

    The 404 detail echoes the path as sent; the token shows only if the caller sent it.
    """
    unknown = client.get("/api/v1/ringostat/nothing")
    assert response.status_code == 404
    assert response.mimetype == unknown.mimetype
    body = response.get_json()
    assert body["code"] == unknown.get_json()["code"] == "not_found"
    assert "destination" not in body
    if TOKEN not in sent:
        assert TOKEN not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "how",
    [
        {"path": f"{URL}/{TOKEN[:-1]}x"},
        {"path": f"{URL}/{TOKEN}extra"},
        {"path": URL},
        {"path": URL, "query_string": {"token": "wrong-token-0123456789"}},
        {"path": URL, "headers": {"token": TOKEN.upper()}},
        {"path": URL, "json": {"token": ""}},
        {"path": f"{URL}/", "json": {"caller": VISITOR}},
    ],
)
def test_a_wrong_or_missing_token_is_a_plain_404(
    route_app: Callable[..., Flask], sip: FakeSipStatus, how: dict[str, Any]
) -> None:
    sip.agents(online=["manager_1"])
    client = route_app().test_client()
    for method in ("GET", "POST", "PUT", "DELETE"):
        response = client.open(method=method, **how)
        _nothing_here(client, response, sent=str(how))


def test_the_endpoint_is_off_without_a_token(make_app: Callable[..., Flask]) -> None:
    app = make_app(ringostat={"auth_key": ""}, route=RouteSettings(token=""))
    client = app.test_client()
    _nothing_here(client, client.get(f"{URL}/"))
    _nothing_here(client, client.get(URL, query_string={"token": ""}))


def test_secrets_and_numbers_stay_out_of_logs(
    route_app: Callable[..., Flask], sip: FakeSipStatus, capfd: pytest.CaptureFixture[str]
) -> None:
    sip.agents(online=["manager_1"])
    app = route_app(ringostat={"callee_type": "number", "callee": "380447776655"})
    _place_callback(app)
    client = app.test_client()
    client.get(f"{URL}/{TOKEN}", query_string={"caller": VISITOR})
    client.get(URL, headers={"token": TOKEN, "caller": "380501234567"})
    client.get(f"{URL}/wrong-{TOKEN}")
    logged = capfd.readouterr().err
    assert "route: caller=+38067*****33 -> +38044*****55 (sticky)" in logged
    assert TOKEN not in logged and "test-auth-key" not in logged
    assert VISITOR not in logged and "380447776655" not in logged


def test_json_values_that_are_numbers_are_read(
    route_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=["manager_1", "manager_7"])
    app = route_app()
    _place_callback(app)
    body = json.dumps({"token": TOKEN, "caller": int(VISITOR)})
    response = app.test_client().put(URL, data=body, content_type="application/json")
    assert _destination(response) == "manager_7"


# -- the token before the body, for every method ------------------------------------------------

DEEP_JSON = b"[" * 3000 + b"]" * 3000
OTHER_METHODS = ("PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND")


def _same_as_a_missing_path(client: FlaskClient, method: str, path: str, **how: Any) -> None:
    """Status, headers that matter and body match those of a path that does not exist."""
    response = client.open(path, method=method, **how)
    unknown = client.open("/api/v1/ringostat/nothing", method=method, **how)
    assert response.status_code == unknown.status_code == 404
    assert response.mimetype == unknown.mimetype
    assert "Allow" not in response.headers and "Allow" not in unknown.headers
    if method != "HEAD":
        body, other = response.get_json(), unknown.get_json()
        assert body["code"] == other["code"] == "not_found"
        assert body["title"] == other["title"]


@pytest.mark.parametrize("method", [*OTHER_METHODS, "GET", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("path", [URL, f"{URL}/wrong-token-0123456789"])
def test_every_method_without_the_token_looks_like_a_missing_path(
    route_app: Callable[..., Flask], method: str, path: str
) -> None:
    client = route_app().test_client()
    _same_as_a_missing_path(client, method, path)


@pytest.mark.parametrize(
    "how",
    [
        {"data": DEEP_JSON, "content_type": "application/json"},
        {"data": b'{"token": ' + DEEP_JSON + b"}", "content_type": "application/json"},
        {"data": b'{"a": 1, "a": 2}', "content_type": "application/json"},
        {"data": b'{"token": "\xff\xfe"}', "content_type": "application/json"},
        {"data": b"{" + b" " * 17000 + b"}", "content_type": "application/json"},
        {"data": b"token=" + b"x" * 17000, "content_type": "application/x-www-form-urlencoded"},
    ],
    ids=["deep", "deep-token", "duplicate-key", "invalid-utf8", "too-large", "too-large-form"],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_hostile_body_without_the_token_looks_like_a_missing_path(
    route_app: Callable[..., Flask], how: dict[str, Any], method: str
) -> None:
    client = route_app().test_client()
    _same_as_a_missing_path(client, method, URL, **how)


def test_a_wrong_token_in_the_path_is_refused_without_reading_the_body(
    route_app: Callable[..., Flask],
) -> None:
    client = route_app().test_client()
    _same_as_a_missing_path(
        client, "POST", f"{URL}/{TOKEN}x", data=DEEP_JSON, content_type="application/json"
    )


def test_a_hostile_body_with_the_right_token_still_gets_the_fallback(
    route_app: Callable[..., Flask],
) -> None:
    client = route_app().test_client()
    response = client.post(f"{URL}/{TOKEN}", data=DEEP_JSON, content_type="application/json")
    assert _destination(response) == FALLBACK


def test_an_unsupported_method_with_the_right_token_is_a_405(
    route_app: Callable[..., Flask],
) -> None:
    response = route_app().test_client().patch(f"{URL}/{TOKEN}")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
