"""The SIP-status client against Ringostat faked at the HTTP boundary (requests-mock)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import requests_mock

from service.config import AgentSettings, RingostatSettings
from service.providers.base import HttpClient, ProviderError
from service.providers.sipstatus import SipStatusClient

API = "https://api.ringostat.test"
AUTH_KEY = "sip-status-auth-key-123"
TOKEN = "smart-phone-token-456"
ONLINE = ["supportrngst_manager1", "supportrngst_manager2", "supportrngst_manager3"]


def _client(source: str = "sip", with_dnd: bool = False) -> SipStatusClient:
    return SipStatusClient(
        RingostatSettings(api_url=API, auth_key=AUTH_KEY, project_id="39071"),
        AgentSettings(source=source, smart_phone_token=TOKEN, with_dnd=with_dnd),
        HttpClient(1.0, 1.0),
    )


def test_online_is_a_get_with_the_auth_key() -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{API}/sipstatus/online", json=ONLINE)
        assert _client().online() == frozenset(ONLINE)
        [sent] = mock.request_history
    assert sent.method == "GET"
    assert sent.headers["Auth-key"] == AUTH_KEY
    assert urlsplit(sent.url).query == ""


def test_speaking() -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{API}/sipstatus/speaking", json=["supportrngst_manager2"])
        assert _client().speaking() == {"supportrngst_manager2"}
        assert mock.request_history[0].headers["Auth-key"] == AUTH_KEY


@pytest.mark.parametrize("with_dnd", [False, True])
def test_smart_phone_variant_sends_project_token_and_dnd(with_dnd: bool) -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{API}/sipstatus/online", json=["rsp_agent"])
        assert _client("smart-phone", with_dnd).online() == {"rsp_agent"}
        [sent] = mock.request_history
    assert parse_qs(urlsplit(sent.url).query) == {
        "project_id": ["39071"],
        "token": [TOKEN],
        "withRspDoNotDisturbSips": ["true" if with_dnd else "false"],
    }
    assert sent.headers["Auth-key"] == AUTH_KEY


def test_both_sources_are_united() -> None:
    with requests_mock.Mocker() as mock:
        mock.get(
            f"{API}/sipstatus/online",
            [{"json": ["desk_phone"]}, {"json": ["rsp_agent", "desk_phone"]}],
        )
        assert _client("both").online() == {"desk_phone", "rsp_agent"}
        first, second = mock.request_history
    assert "token" not in first.url and f"token={TOKEN}" in second.url


def test_an_empty_list_means_nobody() -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{API}/sipstatus/online", json=[])
        assert _client().online() == frozenset()


@pytest.mark.parametrize(
    ("answer", "retryable", "config_fault"),
    [
        ({"status_code": 403, "text": "forbidden"}, False, True),
        ({"status_code": 401, "text": "no"}, False, True),
        ({"status_code": 503, "text": "busy"}, True, False),
        ({"status_code": 429, "text": "slow down"}, True, False),
        ({"json": {"error": "nope"}}, True, False),
        ({"json": [1, 2]}, True, False),
        ({"text": "<html>oops</html>"}, True, False),
    ],
)
def test_failures_are_provider_errors_without_secrets(
    answer: dict[str, object], retryable: bool, config_fault: bool
) -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{API}/sipstatus/online", **answer)  # type: ignore[arg-type]
        with pytest.raises(ProviderError) as caught:
            _client("both").online()
    assert caught.value.retryable is retryable
    assert caught.value.config_fault is config_fault
    assert AUTH_KEY not in str(caught.value) and TOKEN not in str(caught.value)


def test_a_timeout_is_a_provider_error_without_the_url() -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{API}/sipstatus/online", exc=requests.ConnectTimeout)
        with pytest.raises(ProviderError) as caught:
            _client("smart-phone").online()
    assert caught.value.retryable
    assert TOKEN not in str(caught.value) and API not in str(caught.value)
