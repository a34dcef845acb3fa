"""While1 Voice originate-call: the signed form body, as the PBX's own PHP would check it."""

from __future__ import annotations

import dataclasses
import json

import pytest
import requests_mock as rm

from service.config import PbxSettings
from service.providers.base import CallRequest, HttpClient, ProviderError
from service.providers.pbx import Pbx, backend_link, dialled_number
from tests.php import php_verify

URL = "https://pbx.test"
SETTINGS = PbxSettings(
    url=URL,
    api_username="api user",
    api_password="p@ss w~rd+1",
    api_key="key-ß-1",
    project_id="7",
    type="queue",
    destination="sales queue",
    outbound_number="+40212345678",
    outbound_trunk="default-trunk",
    skip_welcome=True,
    skip_we_are_recording=True,
    skip_enter_queue=False,
    backend_link="https://crm.example/leads/{lead_id}?from=callgate",
)
CALL = CallRequest(lead_id="Ab-3_x", phone="+380671112233", name="Олена & Co")
OK = {"has_error": False, "messages": [], "results": ["Call successfully originated"]}


def test_php_accepts_our_signature_and_reads_every_field(requests_mock: rm.Mocker) -> None:
    requests_mock.post(f"{URL}/api/originate-call", json=OK)
    Pbx(SETTINGS, HttpClient(1, 2)).place(CALL)
    sent = requests_mock.last_request
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    verdict = php_verify(sent.text, SETTINGS.api_key)
    assert verdict["valid"] is True
    assert verdict["params"] == {
        "api_username": "api user",
        "api_password": "p@ss w~rd+1",
        "data": {
            "project_id": "7",
            "caller_id": "0671112233",
            "caller_id_name": "Олена & Co",
            "type": "queue",
            "destination": "sales queue",
            "external_id": "Ab-3_x",
            "async": "1",
            "outbound_number": "+40212345678",
            "outbound_trunk": "default-trunk",
            "vars": {
                "SKIP_WELCOME": "1",
                "SKIP_WE_ARE_RECORDING": "1",
                "SKIP_ENTER_QUEUE": "0",
                "BACKEND_LINK": "https://crm.example/leads/Ab-3_x?from=callgate",
            },
        },
    }
    assert sent.text.index("api_username") < sent.text.index("data%5Bvars%5D%5BSKIP_WELCOME%5D")
    assert sent.text.endswith("&api_hash=" + sent.text.rsplit("=", 1)[1])


def test_php_rejects_a_wrong_key(requests_mock: rm.Mocker) -> None:
    requests_mock.post(f"{URL}/api/originate-call", json=OK)
    Pbx(SETTINGS, HttpClient(1, 2)).place(CALL)
    assert php_verify(requests_mock.last_request.text, "another-key")["valid"] is False


def test_unset_options_are_not_sent(requests_mock: rm.Mocker) -> None:
    requests_mock.post(f"{URL}/api/originate-call", json=OK)
    bare = PbxSettings(
        url=URL,
        api_username="u",
        api_password="p",
        api_key="k",
        project_id="1",
        destination="101",
        type="user",
        is_async=False,
    )
    Pbx(bare, HttpClient(1, 2)).place(CallRequest(lead_id="L1", phone="+380671112233"))
    params = php_verify(requests_mock.last_request.text, "k")["params"]
    assert params["data"] == {
        "project_id": "1",
        "caller_id": "0671112233",
        "caller_id_name": "Website visitor",
        "type": "user",
        "destination": "101",
        "external_id": "L1",
        "async": "0",
    }


@pytest.mark.parametrize(
    ("phone", "style", "dialled"),
    [
        ("+380671112233", "national", "0671112233"),
        ("+380442223344", "national", "0442223344"),
        ("+48501234567", "national", "0048501234567"),
        ("+380671112233", "digits", "380671112233"),
        ("+380671112233", "e164", "+380671112233"),
        ("+380671112233", "00", "00380671112233"),
    ],
)
def test_the_visitor_number_in_the_pbx_dialling_format(
    phone: str, style: str, dialled: str
) -> None:
    assert dialled_number(phone, style, "UA") == dialled


def test_national_format_of_another_home_region() -> None:
    assert dialled_number("+40712345678", "national", "RO") == "0712345678"


def test_backend_link_escapes_the_lead_id() -> None:
    assert backend_link("https://crm/?id={lead_id}", "a/b c") == "https://crm/?id=a%2Fb%20c"
    assert backend_link("", "x") is None


def test_refusal_carries_the_pbx_messages(requests_mock: rm.Mocker) -> None:
    requests_mock.post(
        f"{URL}/api/originate-call",
        json={
            "has_error": True,
            "messages": ["Invalid Queue. Check if pbx queue exists", "User offline"],
            "results": [],
        },
    )
    with pytest.raises(ProviderError) as caught:
        Pbx(SETTINGS, HttpClient(1, 2)).place(CALL)
    assert not caught.value.retryable
    assert "Invalid Queue. Check if pbx queue exists; User offline" in caught.value.message


def test_results_are_kept_on_the_placement(requests_mock: rm.Mocker) -> None:
    requests_mock.post(f"{URL}/api/originate-call", json=OK)
    placement = Pbx(SETTINGS, HttpClient(1, 2)).place(CALL)
    assert placement.detail == {"results": "Call successfully originated"}


def test_describe_masks_the_password_and_hash() -> None:
    described = Pbx(SETTINGS, HttpClient(1, 2)).describe(CALL)
    assert described["body"]["api_password"] == "***"
    assert described["body"]["api_hash"] == "***"
    assert described["body"]["data"]["caller_id"] == "0671112233"
    assert SETTINGS.api_password not in json.dumps(described)


def test_the_name_is_cut_and_blank_names_take_the_default() -> None:
    pbx = Pbx(SETTINGS.model_copy(update={"default_caller_name": "Site"}), HttpClient(1, 2))
    long_name = pbx.params(dataclasses.replace(CALL, name="x" * 300))
    blank = pbx.params(dataclasses.replace(CALL, name="   "))
    assert long_name["data"]["caller_id_name"] == "x" * 64
    assert blank["data"]["caller_id_name"] == "Site"
