"""RingCentral RingOut: the requests we send, the token cache, and how statuses map to leads."""

from __future__ import annotations

import base64
import threading
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests_mock as rm

from service.config import RingCentralSettings
from service.providers.base import CallRequest, HttpClient, Placement, ProviderError
from service.providers.oauth import JWT_GRANT, JwtTokenSource
from service.providers.ringcentral import RingCentral, call_state
from tests.fakes.provider import FakeProvider, Received

SERVER = "https://rc.test"
TOKEN_URL = f"{SERVER}/restapi/oauth/token"
RING_OUT = f"{SERVER}/restapi/v1.0/account/~/extension/~/ring-out"
SETTINGS = RingCentralSettings(
    server_url=SERVER,
    client_id="client-id",
    client_secret="client-5ecret",
    jwt="header.jwt-5ecret.signature",
    from_number="+16505550100",
    caller_id="+16505550101",
    play_prompt=True,
)
CALL = CallRequest(lead_id="lead1", phone="+380671112233")
IN_PROGRESS = {
    "callStatus": "InProgress",
    "callerStatus": "InProgress",
    "calleeStatus": "InProgress",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock | None = None) -> RingCentral:
    http = HttpClient(1, 2)
    tokens = JwtTokenSource(
        SERVER,
        SETTINGS.client_id,
        SETTINGS.client_secret,
        SETTINGS.jwt,
        http,
        clock=clock or Clock(),
    )
    return RingCentral(SETTINGS, http, tokens)


def token_answer(mocker: rm.Mocker, expires_in: int = 3600) -> None:
    counter = {"n": 0}

    def issue(request: Any, context: Any) -> dict[str, Any]:
        counter["n"] += 1
        return {
            "access_token": f"token-{counter['n']}",
            "token_type": "bearer",
            "expires_in": expires_in,
        }

    mocker.post(TOKEN_URL, json=issue)


def ring_out_answer(mocker: rm.Mocker, ring_out_id: str = "555") -> None:
    mocker.post(RING_OUT, json={"id": ring_out_id, "uri": "/x", "status": IN_PROGRESS})


def token_requests(mocker: rm.Mocker) -> list[Any]:
    return [r for r in mocker.request_history if r.url == TOKEN_URL]


def test_signs_in_with_the_jwt_grant_and_places_a_ring_out(requests_mock: rm.Mocker) -> None:
    token_answer(requests_mock)
    ring_out_answer(requests_mock)
    placement = make().place(CALL)
    assert placement.reference == "555"
    sign_in, ring_out = requests_mock.request_history
    basic = base64.b64encode(b"client-id:client-5ecret").decode()
    assert sign_in.headers["Authorization"] == f"Basic {basic}"
    assert parse_qs(sign_in.text) == {"grant_type": [JWT_GRANT], "assertion": [SETTINGS.jwt]}
    assert ring_out.headers["Authorization"] == "Bearer token-1"
    assert ring_out.json() == {
        "from": {"phoneNumber": "+16505550100"},
        "to": {"phoneNumber": "+380671112233"},
        "callerId": {"phoneNumber": "+16505550101"},
        "playPrompt": True,
    }


def test_optional_numbers_are_left_to_ringcentral(requests_mock: rm.Mocker) -> None:
    token_answer(requests_mock)
    ring_out_answer(requests_mock)
    bare = RingCentralSettings(server_url=SERVER, client_id="c", client_secret="s", jwt="j")
    RingCentral(bare, HttpClient(1, 2)).place(CALL)
    assert requests_mock.last_request.json() == {
        "to": {"phoneNumber": "+380671112233"},
        "playPrompt": False,
    }


def test_one_token_serves_many_calls(requests_mock: rm.Mocker) -> None:
    token_answer(requests_mock)
    ring_out_answer(requests_mock)
    provider = make()
    for _ in range(20):
        provider.place(CALL)
    assert len(token_requests(requests_mock)) == 1


def test_the_token_is_renewed_shortly_before_it_expires(requests_mock: rm.Mocker) -> None:
    clock = Clock()
    token_answer(requests_mock, expires_in=3600)
    ring_out_answer(requests_mock)
    provider = make(clock)
    provider.place(CALL)
    clock.now += 3600 - 301
    provider.place(CALL)
    assert len(token_requests(requests_mock)) == 1
    clock.now += 2  # within five minutes of expiry
    provider.place(CALL)
    assert len(token_requests(requests_mock)) == 2
    assert requests_mock.last_request.headers["Authorization"] == "Bearer token-2"


def test_threads_share_one_sign_in(requests_mock: rm.Mocker) -> None:
    token_answer(requests_mock)
    ring_out_answer(requests_mock)
    provider = make()
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        start.wait()
        try:
            for _ in range(5):
                provider.place(CALL)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(token_requests(requests_mock)) == 1
    assert len(requests_mock.request_history) == 1 + 40


def test_a_refused_token_is_renewed_once_and_the_call_sent_again(
    requests_mock: rm.Mocker,
) -> None:
    token_answer(requests_mock)
    requests_mock.post(
        RING_OUT,
        [
            {"status_code": 401, "json": {"errorCode": "TokenInvalid"}},
            {"json": {"id": "777", "status": IN_PROGRESS}},
        ],
    )
    assert make().place(CALL).reference == "777"
    bearers = [
        r.headers["Authorization"] for r in requests_mock.request_history if r.url == RING_OUT
    ]
    assert bearers == ["Bearer token-1", "Bearer token-2"]


def test_a_second_401_is_a_configuration_fault(requests_mock: rm.Mocker) -> None:
    token_answer(requests_mock)
    requests_mock.post(RING_OUT, status_code=401, json={"errorCode": "TokenInvalid"})
    with pytest.raises(ProviderError) as caught:
        make().place(CALL)
    assert caught.value.config_fault and not caught.value.retryable
    assert len(token_requests(requests_mock)) == 2


def test_sign_in_rate_limit_is_honoured_without_asking_again(requests_mock: rm.Mocker) -> None:
    clock = Clock()
    requests_mock.post(TOKEN_URL, status_code=429, headers={"Retry-After": "30"})
    provider = make(clock)
    for _ in range(3):
        with pytest.raises(ProviderError) as caught:
            provider.place(CALL)
        assert caught.value.retryable
        assert caught.value.retry_after is not None and caught.value.retry_after >= 29
        clock.now += 0.5
    assert len(token_requests(requests_mock)) == 1
    clock.now += 30
    token_answer(requests_mock)
    ring_out_answer(requests_mock)
    assert provider.place(CALL).reference == "555"


def test_a_bad_jwt_is_a_configuration_fault_and_not_hammered(requests_mock: rm.Mocker) -> None:
    requests_mock.post(
        TOKEN_URL,
        status_code=400,
        json={"error": "invalid_grant", "error_description": "JWT is expired"},
    )
    provider = make()
    for _ in range(3):
        with pytest.raises(ProviderError) as caught:
            provider.place(CALL)
        assert caught.value.config_fault and not caught.value.retryable
        assert SETTINGS.jwt not in caught.value.message
    assert len(token_requests(requests_mock)) == 1


def test_a_failed_renewal_keeps_using_the_valid_token(requests_mock: rm.Mocker) -> None:
    clock = Clock()
    token_answer(requests_mock)
    ring_out_answer(requests_mock)
    provider = make(clock)
    provider.place(CALL)
    clock.now += 3400  # renewal due, token valid for 200 s more
    requests_mock.post(TOKEN_URL, status_code=503)
    provider.place(CALL)
    assert requests_mock.last_request.headers["Authorization"] == "Bearer token-1"


@pytest.mark.parametrize(
    ("body", "config_fault"),
    [
        ({"errorCode": "RGO-103", "message": "InternationalDisabled"}, False),
        ({"errorCode": "CMN-102", "message": "DestinationBlocked"}, False),
        ({"errorCode": "RGO-101", "message": "callerId is not allowed"}, True),
        ({"errorCode": "RGO-104", "message": "NotEnoughFunds"}, True),
    ],
)
def test_403_is_ours_unless_it_names_the_destination(
    requests_mock: rm.Mocker, body: dict[str, str], config_fault: bool
) -> None:
    token_answer(requests_mock)
    requests_mock.post(RING_OUT, status_code=403, json=body)
    with pytest.raises(ProviderError) as caught:
        make().place(CALL)
    assert not caught.value.retryable
    assert caught.value.config_fault is config_fault


def test_429_without_retry_after_waits_a_minute(requests_mock: rm.Mocker) -> None:
    token_answer(requests_mock)
    requests_mock.post(RING_OUT, status_code=429)
    with pytest.raises(ProviderError) as caught:
        make().place(CALL)
    assert caught.value.retryable and caught.value.retry_after == 60


def test_the_access_token_is_not_quoted_in_errors(requests_mock: rm.Mocker) -> None:
    token_answer(requests_mock)
    requests_mock.post(
        RING_OUT, status_code=400, text=lambda r, c: f"bad: {r.headers['Authorization']}"
    )
    with pytest.raises(ProviderError) as caught:
        make().place(CALL)
    assert "token-1" not in caught.value.message


@pytest.mark.parametrize(
    ("call", "caller", "callee", "status", "reason"),
    [
        ("InProgress", "InProgress", "InProgress", "placed", None),
        ("InProgress", "Success", "InProgress", "placed", None),
        ("Success", "Success", "Success", "connected", None),
        ("Success", "Success", "Finished", "connected", None),
        ("Success", "Success", "InProgress", "placed", None),
        ("InProgress", "Success", "Busy", "failed", "callee Busy"),
        ("InProgress", "NoAnswer", "InProgress", "failed", "caller NoAnswer"),
        ("Error", "Success", "Rejected", "failed", "callee Rejected"),
        (
            "CannotReach",
            "Success",
            "InternationalDisabled",
            "failed",
            "callee InternationalDisabled",
        ),
        ("Success", "Success", "DestinationBlocked", "failed", "callee DestinationBlocked"),
        ("Error", "NotEnoughFunds", "InProgress", "failed", "caller NotEnoughFunds"),
        ("NoAnsweringMachine", "Success", "InProgress", "failed", "call NoAnsweringMachine"),
        ("Error", "Success", "SomethingNew", "failed", "callee SomethingNew"),
        ("InProgress", "Success", "SomethingNew", "placed", None),
        ("Teleported", "Success", "Success", "placed", None),
    ],
)
def test_statuses_map_onto_the_lead(
    call: str, caller: str, callee: str, status: str, reason: str | None
) -> None:
    state = call_state({"callStatus": call, "callerStatus": caller, "calleeStatus": callee})
    assert (state.status, state.reason) == (status, reason)
    assert state.raw == f"call={call} caller={caller} callee={callee}"


def test_status_polls_the_ring_out(requests_mock: rm.Mocker) -> None:
    token_answer(requests_mock)
    requests_mock.get(
        f"{RING_OUT}/555",
        json={
            "id": "555",
            "status": {
                "callStatus": "Success",
                "callerStatus": "Success",
                "calleeStatus": "Success",
            },
        },
    )
    state = make().status(Placement(reference="555"))
    assert state.status == "connected" and state.final


def test_status_of_a_forgotten_ring_out_is_final(requests_mock: rm.Mocker) -> None:
    token_answer(requests_mock)
    requests_mock.get(f"{RING_OUT}/555", status_code=404, json={"errorCode": "CMN-102"})
    with pytest.raises(ProviderError) as caught:
        make().status(Placement(reference="555"))
    assert not caught.value.retryable and caught.value.http_status == 404


def test_cancel_deletes_the_ring_out(requests_mock: rm.Mocker) -> None:
    token_answer(requests_mock)
    requests_mock.delete(f"{RING_OUT}/555", status_code=204)
    make().cancel(Placement(reference="555"))
    assert requests_mock.last_request.method == "DELETE"
    assert requests_mock.last_request.headers["Authorization"] == "Bearer token-1"


def test_describe_signs_in_to_nothing(requests_mock: rm.Mocker) -> None:
    described = make().describe(CALL)
    assert requests_mock.call_count == 0
    assert described["headers"]["Authorization"] == "***"
    assert described["body"]["to"] == {"phoneNumber": "+380671112233"}


def test_calls_go_on_with_the_valid_token_while_it_is_renewed(
    fake_provider: FakeProvider,
) -> None:
    """A real threaded loopback server: requests-mock would run one request at a time."""
    clock = Clock()
    inside, release = threading.Event(), threading.Event()
    issued: list[str] = []

    def answer(received: Received) -> dict[str, Any]:
        if received.path != "/restapi/oauth/token":
            return {"id": "555", "status": IN_PROGRESS}
        issued.append(f"token-{len(issued) + 1}")
        if len(issued) == 2:  # the renewal: hold it until the other call went through
            inside.set()
            release.wait(10)
        return {"access_token": issued[-1], "expires_in": 3600}

    fake_provider.set(body=answer)
    http = HttpClient(1, 30)
    settings = SETTINGS.model_copy(update={"server_url": fake_provider.url})
    tokens = JwtTokenSource(fake_provider.url, "c", "s", "j", http, clock=clock)
    provider = RingCentral(settings, http, tokens)
    provider.place(CALL)
    clock.now += 3400  # renewal due; token-1 valid for 200 s more
    renewer = threading.Thread(target=provider.place, args=(CALL,))
    renewer.start()
    assert inside.wait(10)
    provider.place(CALL)  # would wait for the renewal if it had to; release comes only after
    release.set()
    renewer.join(10)
    bearers = [
        r.headers["Authorization"]
        for r in fake_provider.received
        if r.method == "POST" and r.path.endswith("/ring-out")
    ]
    assert bearers == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert issued == ["token-1", "token-2"]
