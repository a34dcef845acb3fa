"""The service as the README starts it (gunicorn), a loopback Ringostat, a real POST."""

from __future__ import annotations

import json
from collections.abc import Callable

import requests

from tests.fakes.provider import FakeProvider
from tests.integration.conftest import RINGOSTAT_ENV
from tests.samples import GA, RNGST2
from tests.servers import Service, wait_until

UA = "Mozilla/5.0 (X11; Linux x86_64) callgate-test"
EXPECTED_PARAMS = {
    "callee_type": "scheme",
    "caller_type": "default",
    "caller": "380671112233",
    "callee": "4242",
    "manager_dst": 0,
    "direction": "out",
    "projectId": "11111",
    "clientIp": "127.0.0.1",
    "utmSource": "google",
    "utmMedium": "cpc",
    "utmCampaign": "spring",
    "utmTerm": "call me",
    "utmContent": "ad1",
    "clientId": "1234567890.1700000000",
    "clientUserAgent": UA,
}


def _service(start_service: Callable[..., Service], fake: FakeProvider) -> Service:
    return start_service({**RINGOSTAT_ENV, "CALLGATE_RINGOSTAT_API_URL": fake.url})


def _status(service: Service, lead_id: str) -> str:
    status: str = requests.get(f"{service.url}/api/v1/callbacks/{lead_id}", timeout=5).json()[
        "status"
    ]
    return status


def test_one_post_with_cookies_makes_one_extended_callback(
    start_service: Callable[..., Service], fake_ringostat: FakeProvider
) -> None:
    service = _service(start_service, fake_ringostat)
    response = requests.post(
        f"{service.url}/api/v1/callbacks",
        json={"phone": "067 111 22 33", "name": "Ann"},
        headers={"User-Agent": UA, "Cookie": f"rngst2={RNGST2}; _ga={GA}"},
        timeout=5,
    )
    assert response.status_code == 202
    lead_id = response.json()["id"]
    [received] = fake_ringostat.wait_for(1)
    assert received.method == "POST" and received.path == "/a/v2"
    assert received.headers["Auth-key"] == "integration-auth-key"
    body = received.json()
    assert body["jsonrpc"] == "2.0" and body["method"] == "Api\\V2\\Callback.external"
    assert body["params"] == EXPECTED_PARAMS
    wait_until(lambda: _status(service, lead_id) == "placed", 10, "placed")
    assert len(fake_ringostat.received) == 1
    assert "integration-auth-key" not in service.log()
    assert "380671112233" not in service.log()


def test_widget_copies_give_the_same_params(
    start_service: Callable[..., Service], fake_ringostat: FakeProvider
) -> None:
    service = _service(start_service, fake_ringostat)
    response = requests.post(
        f"{service.url}/api/v1/callbacks",
        json={"phone": "+380671112233", "rngst2": RNGST2, "ga": GA},
        headers={"User-Agent": UA},
        timeout=5,
    )
    assert response.status_code == 202
    [received] = fake_ringostat.wait_for(1)
    assert received.json()["params"] == EXPECTED_PARAMS


def test_dry_run_logs_every_param_and_calls_nobody(
    start_service: Callable[..., Service], fake_ringostat: FakeProvider
) -> None:
    service = start_service(
        {
            "CALLGATE_RINGOSTAT_API_URL": fake_ringostat.url,
            "CALLGATE_RINGOSTAT_PROJECT_ID": "11111",
            "CALLGATE_FORM_TOKEN": "optional",
        }
    )
    lead_id = requests.post(
        f"{service.url}/api/v1/callbacks",
        json={"phone": "0671112233", "rngst2": RNGST2, "ga": GA},
        headers={"User-Agent": UA},
        timeout=5,
    ).json()["id"]
    wait_until(lambda: _status(service, lead_id) == "placed", 10, "placed")
    line = next(line for line in service.log().splitlines() if "dry-run: would send" in line)
    request = json.loads(line.split("would send to ringostat: ", 1)[1])
    assert request["url"] == f"{fake_ringostat.url}/a/v2"
    assert request["headers"]["Auth-key"] == "***"
    expected = {**EXPECTED_PARAMS, "caller": "38067*****33", "callee": ""}
    assert request["body"]["params"] == expected
    assert fake_ringostat.received == []
