"""One contract, every provider: what the dispatcher may rely on, whoever places the call.

Each provider is built by the real registry (``build_provider``) from settings, and faked at the
HTTP boundary with requests-mock (the transport, not our functions). The contract:

* a good answer is a :class:`Placement`;
* a refusal is a permanent :class:`ProviderError` (not retried: it would be refused again);
* 5xx and 429 are retryable, 429 with the provider's ``Retry-After``;
* a connect timeout is retryable; a read timeout is ``outcome_unknown`` and never retried, since
  the provider may have rung the visitor already;
* an answer we cannot read is never retried (placed, or placed-unconfirmed), never a crash;
* our secrets never reach an error message or a log line, even when the provider echoes our
  request back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import requests_mock as rm

from service.config import PbxSettings, RingCentralSettings, Settings
from service.database import migrate
from service.dispatch import Dispatcher
from service.leads import Lead, LeadStore
from service.logs import configure_logging
from service.providers import CallRequest, Placement, Provider, ProviderError, build_provider
from tests.conftest import SettingsFactory

API = "https://provider.test"
CALL = CallRequest(lead_id="lead-contract-1", phone="+380671112233", name="Ann")
TOKEN_URL = f"{API}/restapi/oauth/token"
ACCESS_TOKEN = "rc-access-token-5ecret-0123"

RINGOSTAT = {
    "api_url": API,
    "auth_key": "rs-auth-key-5ecret",
    "project_id": "11111",
    "callee": "4242",
    "extension": "+380441112233",
}
RINGCENTRAL = RingCentralSettings(
    server_url=API,
    client_id="rc-client-id",
    client_secret="rc-client-5ecret",
    jwt="eyJhbGciOiJSUzI1NiJ9.rc-jwt-5ecret.c2lnbmF0dXJl",
    from_number="+16505550100",
)
PBX = PbxSettings(
    url=API,
    api_username="pbx-user",
    api_password="pbx pass+5ecret~",
    api_key="pbx-api-key-5ecret",
    project_id="1",
    destination="sales",
)


def _echo(request: Any, context: Any) -> str:
    """A misbehaving API that quotes our whole request back in its error, body first."""
    return json.dumps({"body": request.text or "", "headers": dict(request.headers)})


@dataclass(frozen=True)
class Api:
    provider: str
    method: str
    url: str
    placed: dict[str, Any]
    refused: dict[str, Any]
    # What a 2xx we cannot read becomes: "placed" or "unknown" (placed, unconfirmed).
    unreadable: str
    secrets: tuple[str, ...]
    setup: Callable[[rm.Mocker], None] = lambda mocker: None
    reference: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


def _rc_token(mocker: rm.Mocker) -> None:
    mocker.post(
        TOKEN_URL, json={"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 3600}
    )


APIS = [
    Api(
        provider="ringostat",
        method="POST",
        url=f"{API}/a/v2",
        placed={"json": {"jsonrpc": "2.0", "id": 1, "result": True}},
        refused={
            "json": {
                "jsonrpc": "2.0",
                "id": 1,
                "error": {"code": -32602, "message": "Invalid caller"},
            }
        },
        unreadable="placed",
        secrets=(RINGOSTAT["auth_key"],),
    ),
    Api(
        provider="ringostat-simple",
        method="POST",
        url=f"{API}/callback/outward_call",
        placed={"text": ""},
        refused={"status_code": 400, "text": "destination is invalid"},
        unreadable="placed",
        secrets=(RINGOSTAT["auth_key"],),
    ),
    Api(
        provider="ringcentral",
        method="POST",
        url=f"{API}/restapi/v1.0/account/~/extension/~/ring-out",
        placed={
            "json": {
                "id": "987654",
                "uri": "/x",
                "status": {
                    "callStatus": "InProgress",
                    "callerStatus": "InProgress",
                    "calleeStatus": "InProgress",
                },
            }
        },
        refused={
            "status_code": 400,
            "json": {"errorCode": "CMN-101", "message": "Parameter [to.phoneNumber] is invalid"},
        },
        unreadable="unknown",
        secrets=(RINGCENTRAL.client_secret, RINGCENTRAL.jwt, ACCESS_TOKEN),
        setup=_rc_token,
        reference="987654",
        overrides={"ringcentral": RINGCENTRAL},
    ),
    Api(
        provider="pbx",
        method="POST",
        url=f"{API}/api/originate-call",
        placed={
            "json": {
                "has_error": False,
                "messages": [],
                "results": ["Call successfully originated for queue: sales"],
            }
        },
        refused={
            "json": {
                "has_error": True,
                "messages": ["Invalid Queue. Check if pbx queue exists"],
                "results": [],
            }
        },
        unreadable="unknown",
        secrets=(PBX.api_password, PBX.api_key, "pbx+pass%2B5ecret%7E"),
        overrides={"pbx": PBX},
    ),
]
IDS = [api.provider for api in APIS]


def provider_for(make_settings: SettingsFactory, api: Api) -> tuple[Settings, Provider]:
    settings = make_settings(provider=api.provider, ringostat=RINGOSTAT, **api.overrides)
    return settings, build_provider(settings)


@pytest.fixture(params=APIS, ids=IDS)
def api(request: pytest.FixtureRequest) -> Api:
    found: Api = request.param
    return found


@pytest.fixture
def provider(make_settings: SettingsFactory, api: Api) -> Provider:
    return provider_for(make_settings, api)[1]


def place(provider: Provider) -> Placement | ProviderError:
    try:
        return provider.place(CALL)
    except ProviderError as exc:
        return exc


def test_placed(api: Api, provider: Provider, requests_mock: rm.Mocker) -> None:
    api.setup(requests_mock)
    requests_mock.register_uri(api.method, api.url, **api.placed)
    result = place(provider)
    assert isinstance(result, Placement)
    assert result.status == "placed"
    assert result.reference == api.reference
    sent = [r for r in requests_mock.request_history if r.url == api.url]
    assert len(sent) == 1 and sent[0].method == api.method


def test_refusal_is_a_permanent_failure(
    api: Api, provider: Provider, requests_mock: rm.Mocker
) -> None:
    api.setup(requests_mock)
    requests_mock.register_uri(api.method, api.url, **api.refused)
    result = place(provider)
    assert isinstance(result, ProviderError)
    assert not result.retryable and not result.outcome_unknown and not result.config_fault


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_passing_failures_are_retryable(
    api: Api, provider: Provider, requests_mock: rm.Mocker, status: int
) -> None:
    api.setup(requests_mock)
    requests_mock.register_uri(
        api.method, api.url, status_code=status, text="busy", headers={"Retry-After": "7"}
    )
    result = place(provider)
    assert isinstance(result, ProviderError)
    assert result.retryable and not result.outcome_unknown
    assert result.http_status == status
    if status == 429:
        assert result.retry_after == 7


@pytest.mark.parametrize("status", [401, 403])
def test_credentials_refused_are_a_configuration_fault(
    api: Api, provider: Provider, requests_mock: rm.Mocker, status: int
) -> None:
    api.setup(requests_mock)
    requests_mock.register_uri(api.method, api.url, status_code=status, text="denied")
    result = place(provider)
    assert isinstance(result, ProviderError)
    assert result.config_fault and not result.retryable


def test_connect_timeout_is_retryable(
    api: Api, provider: Provider, requests_mock: rm.Mocker
) -> None:
    api.setup(requests_mock)
    requests_mock.register_uri(api.method, api.url, exc=requests.ConnectTimeout)
    result = place(provider)
    assert isinstance(result, ProviderError) and result.retryable


def test_read_timeout_is_never_retried(
    api: Api, provider: Provider, requests_mock: rm.Mocker
) -> None:
    api.setup(requests_mock)
    requests_mock.register_uri(api.method, api.url, exc=requests.ReadTimeout)
    result = place(provider)
    assert isinstance(result, ProviderError)
    assert result.outcome_unknown and not result.retryable


@pytest.mark.parametrize(
    "body", ["<html>Gateway says hi</html>", "", '{"unexpected": 1}', "[1, 2", "null"]
)
def test_an_unreadable_answer_is_never_retried(
    api: Api, provider: Provider, requests_mock: rm.Mocker, body: str
) -> None:
    api.setup(requests_mock)
    requests_mock.register_uri(api.method, api.url, text=body)
    result = place(provider)
    if api.unreadable == "placed":
        assert isinstance(result, Placement)
    else:
        assert isinstance(result, ProviderError)
        assert result.outcome_unknown and not result.retryable


@pytest.mark.parametrize("status", [400, 403, 500])
def test_secrets_never_reach_errors_or_logs(
    api: Api,
    make_settings: SettingsFactory,
    requests_mock: rm.Mocker,
    capsys: pytest.CaptureFixture[str],
    status: int,
) -> None:
    settings, provider = provider_for(make_settings, api)
    settings = settings.model_copy(update={"log_level": "DEBUG", "max_attempts": 1})
    configure_logging(settings.log_level, settings.secret_values())
    # The first endpoint the provider touches quotes our request back (RingCentral: sign-in).
    first = TOKEN_URL if api.provider == "ringcentral" else api.url
    requests_mock.register_uri("POST", first, status_code=status, text=_echo)
    error = place(provider)
    assert isinstance(error, ProviderError)
    for secret in api.secrets:
        assert secret not in error.message
    store = LeadStore(settings.database_url)
    migrate(store)
    lead, _ = store.insert(Lead(phone=CALL.phone))
    Dispatcher(settings, store, provider).run_once()
    stored = store.get(lead.id, with_attempts=True)
    store.close()
    assert stored is not None and stored.status == "failed"
    assert stored.last_error
    written = capsys.readouterr().err
    assert f"lead {lead.id}" in written  # the failure was logged...
    for secret in api.secrets:  # ...without a secret, in the log or in the store
        assert secret not in written
        assert secret not in stored.last_error
        assert all(secret not in (a.error or "") for a in stored.attempts)


def test_secrets_never_reach_an_error_when_the_refusal_quotes_them(
    make_settings: SettingsFactory, requests_mock: rm.Mocker
) -> None:
    """Refusals carried in a 200 (JSON-RPC error, has_error) are scrubbed as well."""
    for api, answer in (
        (
            APIS[0],
            {
                "jsonrpc": "2.0",
                "id": 1,
                "error": {"code": 1, "message": f"key {RINGOSTAT['auth_key']} refused"},
            },
        ),
        (
            APIS[3],
            {
                "has_error": True,
                "messages": [f"bad password {PBX.api_password}", f"hash for {PBX.api_key}"],
            },
        ),
    ):
        requests_mock.register_uri(api.method, api.url, json=answer)
        error = place(provider_for(make_settings, api)[1])
        assert isinstance(error, ProviderError) and not error.retryable
        for secret in api.secrets:
            assert secret not in error.message


@pytest.mark.parametrize("real", ["ringostat", "ringostat-simple", "ringcentral", "pbx"])
def test_dry_run_describes_each_provider_and_sends_nothing(
    make_settings: SettingsFactory,
    requests_mock: rm.Mocker,
    capsys: pytest.CaptureFixture[str],
    real: str,
) -> None:
    api = next(a for a in APIS if a.provider == real)
    settings = make_settings(
        provider="dry-run", dry_run_as=real, ringostat=RINGOSTAT, **api.overrides
    )
    configure_logging("INFO", settings.secret_values())
    provider = build_provider(settings)
    placement = provider.place(CALL)
    assert placement.status == "placed"
    assert requests_mock.call_count == 0  # not even a sign-in
    request = placement.detail["request"]
    assert request["url"] == api.url
    logged = capsys.readouterr().err
    assert f"would send to {real}" in logged
    for secret in api.secrets:
        assert secret not in json.dumps(request)
        assert secret not in logged
