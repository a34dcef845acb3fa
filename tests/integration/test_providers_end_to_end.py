"""Each ``CALLGATE_PROVIDER`` started as the README starts it (gunicorn), against a loopback fake
of its API, placing a lead from a real POST. (Ringostat's extended callback has its own file.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs

import requests

from tests.fakes.apis import RING_OUT, FakeRingCentral, pbx_originated, ringostat_simple_ok
from tests.fakes.provider import FakeProvider
from tests.php import php_verify
from tests.servers import Service, wait_until

# Every service here: a secret key, and no form token (these posts come from no browser; the
# abuse defences on main require one unless told otherwise).
COMMON = {
    "CALLGATE_SECRET_KEY": "integration-secret-key-0123456789",
    "CALLGATE_FORM_TOKEN": "optional",
}


def post_lead(service: Service, phone: str, name: str | None = None) -> str:
    response = requests.post(
        f"{service.url}/api/v1/callbacks", json={"phone": phone, "name": name}, timeout=5
    )
    assert response.status_code == 202, response.text
    lead_id: str = response.json()["id"]
    return lead_id


def lead_status(service: Service, lead_id: str) -> str:
    answer = requests.get(f"{service.url}/api/v1/callbacks/{lead_id}", timeout=5)
    status: str = answer.json()["status"]
    return status


def test_ringostat_simple_callback(
    start_service: Callable[..., Service], fake_ringostat: FakeProvider
) -> None:
    fake_ringostat.set(body=ringostat_simple_ok)
    service = start_service(
        {
            **COMMON,
            "CALLGATE_PROVIDER": "ringostat-simple",
            "CALLGATE_RINGOSTAT_API_URL": fake_ringostat.url,
            "CALLGATE_RINGOSTAT_AUTH_KEY": "simple-auth-key-0123",
            "CALLGATE_RINGOSTAT_EXTENSION": "+380441112233",
        }
    )
    lead_id = post_lead(service, "067 111 22 33")
    wait_until(lambda: lead_status(service, lead_id) == "placed", 10, "placed")
    [received] = fake_ringostat.received
    assert (received.method, received.path) == ("POST", "/callback/outward_call")
    assert received.headers["Auth-key"] == "simple-auth-key-0123"
    assert received.form() == {"extension": "380441112233", "destination": "380671112233"}
    assert "simple-auth-key-0123" not in service.log()


def test_ringcentral_ring_out_followed_to_connected(
    start_service: Callable[..., Service], fake_provider: FakeProvider
) -> None:
    fake_provider.set(body=FakeRingCentral())
    service = start_service(
        {
            **COMMON,
            "CALLGATE_PROVIDER": "ringcentral",
            "CALLGATE_RINGCENTRAL_SERVER_URL": fake_provider.url,
            "CALLGATE_RINGCENTRAL_CLIENT_ID": "rc-client-id",
            "CALLGATE_RINGCENTRAL_CLIENT_SECRET": "rc-client-secret-0123",
            "CALLGATE_RINGCENTRAL_JWT": "rc.jwt.credential-0123",
            "CALLGATE_RINGCENTRAL_FROM": "+16505550100",
            "CALLGATE_STATUS_POLL_INTERVAL": "100ms",
            "CALLGATE_DISPATCH_POLL": "100ms",
            "CALLGATE_WORKERS": "1",
        }
    )
    leads = [post_lead(service, "+380671112233"), post_lead(service, "+380501112233")]
    for lead_id in leads:
        wait_until(lambda: lead_status(service, lead_id) == "connected", 15, "connected")  # noqa: B023
    received = fake_provider.received
    sign_ins = [r for r in received if r.path == "/restapi/oauth/token"]
    ring_outs = [r for r in received if r.method == "POST" and r.path == RING_OUT]
    polls = [r for r in received if r.method == "GET"]
    assert len(sign_ins) == 1  # one token for both calls
    assert parse_qs(sign_ins[0].body.decode())["assertion"] == ["rc.jwt.credential-0123"]
    assert sorted(r.json()["to"]["phoneNumber"] for r in ring_outs) == [
        "+380501112233",
        "+380671112233",
    ]
    assert all(r.json()["from"] == {"phoneNumber": "+16505550100"} for r in ring_outs)
    assert len(polls) >= 4  # each rang once, then connected
    log = service.log()
    for secret in ("rc-client-secret-0123", "rc.jwt.credential-0123", FakeRingCentral.token):
        assert secret not in log


def test_pbx_originate_call_signed_as_php_checks_it(
    start_service: Callable[..., Service], fake_provider: FakeProvider
) -> None:
    fake_provider.set(body=pbx_originated)
    service = start_service(
        {
            **COMMON,
            "CALLGATE_PROVIDER": "pbx",
            "CALLGATE_PBX_URL": fake_provider.url,
            "CALLGATE_PBX_API_USERNAME": "callgate",
            "CALLGATE_PBX_API_PASSWORD": "pbx-password-0123",
            "CALLGATE_PBX_API_KEY": "pbx-api-key-0123",
            "CALLGATE_PBX_PROJECT_ID": "3",
            "CALLGATE_PBX_DESTINATION": "sales",
            "CALLGATE_PBX_SKIP_WELCOME": "true",
            "CALLGATE_PBX_BACKEND_LINK": "https://crm.example.com/leads/{lead_id}",
        }
    )
    lead_id = post_lead(service, "+380671112233", name="Ann Smith")
    wait_until(lambda: lead_status(service, lead_id) == "placed", 10, "placed")
    [received] = fake_provider.received
    assert (received.method, received.path) == ("POST", "/api/originate-call")
    verdict = php_verify(received.body.decode(), "pbx-api-key-0123")
    assert verdict["valid"] is True
    assert verdict["params"]["data"] == {
        "project_id": "3",
        "caller_id": "0671112233",
        "caller_id_name": "Ann Smith",
        "type": "queue",
        "destination": "sales",
        "external_id": lead_id,
        "async": "1",
        "vars": {
            "SKIP_WELCOME": "1",
            "BACKEND_LINK": f"https://crm.example.com/leads/{lead_id}",
        },
    }
    log = service.log()
    assert "pbx-password-0123" not in log and "pbx-api-key-0123" not in log


def test_dry_run_as_the_pbx_calls_nobody(
    start_service: Callable[..., Service], fake_provider: FakeProvider
) -> None:
    service = start_service(
        {
            "CALLGATE_PROVIDER": "dry-run",
            "CALLGATE_FORM_TOKEN": "optional",
            "CALLGATE_DRY_RUN_AS": "pbx",
            "CALLGATE_PBX_URL": fake_provider.url,
            "CALLGATE_PBX_API_PASSWORD": "pbx-password-0123",
            "CALLGATE_PBX_DESTINATION": "sales",
        }
    )
    lead_id = post_lead(service, "0671112233")
    wait_until(lambda: lead_status(service, lead_id) == "placed", 10, "placed")
    line = next(line for line in service.log().splitlines() if "dry-run: would send" in line)
    request = json.loads(line.split("would send to pbx: ", 1)[1])
    assert request["url"] == f"{fake_provider.url}/api/originate-call"
    assert request["body"]["api_password"] == "***"
    assert request["body"]["data"]["external_id"] == lead_id
    assert "pbx-password-0123" not in service.log()
    assert fake_provider.received == []
