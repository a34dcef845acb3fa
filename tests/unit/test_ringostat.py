from __future__ import annotations

import json

import pytest
import requests
import requests_mock

from service.attribution import Attribution
from service.config import RingostatSettings
from service.providers.base import CallRequest, HttpClient, ProviderError
from service.providers.dry_run import DryRun
from service.providers.ringostat import RingostatExtended, RingostatSimple

API = "https://api.ringostat.test"
SETTINGS = RingostatSettings(
    api_url=API,
    auth_key="secret-auth-key",
    project_id="11111",
    callee="4242",
    manager_dst=1,
    extension="+380441112233",
)
CALL = CallRequest(
    lead_id="lead1",
    phone="+380671112233",
    name="Ann",
    attribution=Attribution(
        client_ip="203.0.113.7",
        user_agent="Mozilla/5.0",
        utm_source="google",
        utm_medium="cpc",
        utm_campaign="spring",
        utm_term="call me",
        utm_content="ad1",
        client_id="111.222",
        gclid="Cj0KCQ-abc_1",
    ),
)


@pytest.fixture
def extended() -> RingostatExtended:
    return RingostatExtended(SETTINGS, HttpClient(1, 2))


def test_extended_callback_sends_the_documented_request(
    extended: RingostatExtended, requests_mock: requests_mock.Mocker
) -> None:
    requests_mock.post(f"{API}/a/v2", json={"jsonrpc": "2.0", "id": 1, "result": True})
    placement = extended.place(CALL)
    assert placement.status == "placed"
    sent = requests_mock.last_request
    assert sent.headers["Auth-key"] == "secret-auth-key"
    assert sent.headers["Content-Type"] == "application/json"
    body = sent.json()
    assert body["jsonrpc"] == "2.0"
    assert isinstance(body["id"], int)
    assert body["method"] == "Api\\V2\\Callback.external"
    assert body["params"] == {
        "callee_type": "scheme",
        "caller_type": "default",
        "caller": "380671112233",
        "callee": "4242",
        "manager_dst": 1,
        "direction": "out",
        "projectId": "11111",
        "clientIp": "203.0.113.7",
        "utmSource": "google",
        "utmMedium": "cpc",
        "utmCampaign": "spring",
        "utmTerm": "call me",
        "utmContent": "ad1",
        "clientId": "111.222",
        "clientUserAgent": "Mozilla/5.0",
    }


def test_unknown_attribution_is_omitted_not_empty(
    extended: RingostatExtended, requests_mock: requests_mock.Mocker
) -> None:
    requests_mock.post(f"{API}/a/v2", json={"result": True})
    extended.place(CallRequest(lead_id="l", phone="+380671112233"))
    params = requests_mock.last_request.json()["params"]
    assert set(params) == {
        "callee_type",
        "caller_type",
        "caller",
        "callee",
        "manager_dst",
        "direction",
        "projectId",
    }


def test_jsonrpc_error_in_a_200_is_a_permanent_failure(
    extended: RingostatExtended, requests_mock: requests_mock.Mocker
) -> None:
    requests_mock.post(
        f"{API}/a/v2",
        json={"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "bad caller"}},
    )
    with pytest.raises(ProviderError) as caught:
        extended.place(CALL)
    assert not caught.value.retryable and not caught.value.config_fault
    assert "bad caller" in caught.value.message


@pytest.mark.parametrize(
    ("status", "retryable", "config_fault"),
    [
        (400, False, False),
        (401, False, True),
        (403, False, True),
        (404, False, False),
        (429, True, False),
        (500, True, False),
        (502, True, False),
        (503, True, False),
    ],
)
def test_http_status_outcomes(
    extended: RingostatExtended,
    requests_mock: requests_mock.Mocker,
    status: int,
    retryable: bool,
    config_fault: bool,
) -> None:
    requests_mock.post(f"{API}/a/v2", status_code=status, text="nope", headers={"Retry-After": "7"})
    with pytest.raises(ProviderError) as caught:
        extended.place(CALL)
    assert caught.value.http_status == status
    assert caught.value.retryable is retryable
    assert caught.value.config_fault is config_fault
    assert "secret-auth-key" not in caught.value.message
    if status == 429:
        assert caught.value.retry_after == 7


@pytest.mark.parametrize(
    ("exception", "retryable", "unknown"),
    [
        (requests.ConnectTimeout, True, False),
        (requests.ConnectionError, True, False),
        (requests.ReadTimeout, False, True),
    ],
)
def test_transport_failures(
    extended: RingostatExtended,
    requests_mock: requests_mock.Mocker,
    exception: type[Exception],
    retryable: bool,
    unknown: bool,
) -> None:
    requests_mock.post(f"{API}/a/v2", exc=exception)
    with pytest.raises(ProviderError) as caught:
        extended.place(CALL)
    assert caught.value.retryable is retryable
    assert caught.value.outcome_unknown is unknown


def test_a_2xx_without_json_is_placed(
    extended: RingostatExtended, requests_mock: requests_mock.Mocker
) -> None:
    requests_mock.post(f"{API}/a/v2", text="OK")
    assert extended.place(CALL).status == "placed"


def test_simple_callback(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.post(f"{API}/callback/outward_call", text="")
    RingostatSimple(SETTINGS, HttpClient(1, 2)).place(CALL)
    sent = requests_mock.last_request
    assert sent.headers["Auth-key"] == "secret-auth-key"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.text == "extension=380441112233&destination=380671112233"


def test_dry_run_sends_nothing_and_masks_the_key(
    extended: RingostatExtended,
    requests_mock: requests_mock.Mocker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="callgate")
    placement = DryRun(extended).place(CALL)
    assert requests_mock.call_count == 0
    request = placement.detail["request"]
    assert request["url"] == f"{API}/a/v2"
    assert request["headers"]["Auth-key"] == "***"
    assert request["body"]["params"]["utmSource"] == "google"
    assert "secret-auth-key" not in json.dumps(request)


def test_dry_run_records_the_attribution_no_provider_takes() -> None:
    placement = DryRun(RingostatExtended(SETTINGS, HttpClient(1, 2))).place(CALL)
    attribution = placement.detail["attribution"]
    # Ringostat has no parameter for ad click ids: the dry-run record is where they show.
    assert attribution["gclid"] == "Cj0KCQ-abc_1" and attribution["utm_source"] == "google"
    assert "gclid" not in json.dumps(placement.detail["request"])
    assert "client_ip" not in attribution and "user_agent" not in attribution  # personal


@pytest.mark.parametrize(
    ("callee_type", "callee", "expected"),
    [
        ("sip", "manager_7", "manager_7"),
        ("number", "+380 44 777 66 55", "380447776655"),
        ("scheme", "4242", None),
        ("default", "4242", None),
    ],
)
def test_extended_callback_says_which_destination_it_rang(
    requests_mock: requests_mock.Mocker, callee_type: str, callee: str, expected: str | None
) -> None:
    settings = SETTINGS.model_copy(update={"callee_type": callee_type, "callee": callee})
    requests_mock.post(f"{API}/a/v2", json={"result": True})
    provider = RingostatExtended(settings, HttpClient(1, 2))
    assert provider.place(CALL).destination == expected
    assert DryRun(provider).place(CALL).destination == expected


def test_simple_callback_names_no_destination(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.post(f"{API}/callback/outward_call", text="ok")
    provider = RingostatSimple(SETTINGS.model_copy(update={"callee_type": "sip"}), HttpClient(1, 2))
    assert provider.place(CALL).destination is None
