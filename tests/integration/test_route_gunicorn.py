"""The webhook under gunicorn: the reference's request on the wire, byte for byte; Redis shared."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.fakes.sipstatus import FakeSipStatus
from tests.integration.conftest import RINGOSTAT_ENV
from tests.servers import Redis, Service, wait_until

# Short, so that every worker's status poller turns (a quarter of it) within the test.
SIPSTATUS_TTL = 1.0

TOKEN = "integration-route-token-0123456789"
BODY = (
    b'{"call_id":"pkv","step_forward":"webhookNumber%3A120",'
    b'"uuid":"842d921d-5334-4eca-812d-9a478dc8c884","google_id":"UA-38222689-2"}'
)


def reference_request(token: str) -> bytes:
    """The reference's request with only the path changed to ours."""
    return (
        f"POST /api/v1/ringostat/route/{token} HTTP/1.1\r\n"
        "Host: api.asterisk\r\n"
        "Origin: api.asterisk\r\n"
        "User-Agent: ringostat HTTP Client v1.1\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 128\r\n"
        "Connection: close\r\n"
        "\r\n"
    ).encode() + BODY


def send_raw(port: int, payload: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
    return int(status_line.split()[1]), headers, body


@pytest.fixture
def sip() -> Iterator[FakeSipStatus]:
    fake = FakeSipStatus().start()
    yield fake
    fake.stop()


def _env(sip: FakeSipStatus, **extra: str) -> dict[str, str]:
    return {
        **RINGOSTAT_ENV,
        "CALLGATE_RINGOSTAT_API_URL": sip.url,
        "CALLGATE_ROUTE_TOKEN": TOKEN,
        "CALLGATE_ROUTE_FALLBACK": "380441234567",
        **extra,
    }


def test_the_reference_request_on_the_wire(
    start_service: Callable[..., Service], sip: FakeSipStatus
) -> None:
    sip.agents(
        online=["supportrngst_manager1", "supportrngst_manager2"],
        speaking=["supportrngst_manager1"],
    )
    service = start_service(_env(sip, CALLGATE_ROUTE_RESPONSE_KEY="number_01"))
    expected = {"number_01": "supportrngst_manager2"}

    def answered() -> bool:
        status, headers, body = send_raw(service.port, reference_request(TOKEN))
        assert status == 200 and headers["content-type"] == "application/json"
        return bool(json.loads(body) == expected)

    # Each gunicorn worker warms its own cache in the background; until then: the fallback.
    wait_until(answered, 30, "a warm SIP-status cache")
    status, _, body = send_raw(service.port, reference_request("wrong" + TOKEN))
    assert status == 404 and b"number_01" not in body
    log = service.log()
    assert TOKEN not in log and "integration-auth-key" not in log
    assert "/api/v1/ringostat/route/***" in log


def test_http_answer_over_get(start_service: Callable[..., Service], sip: FakeSipStatus) -> None:
    service = start_service(_env(sip, CALLGATE_ROUTE_RESPONSE="http"))
    response = requests.get(
        f"{service.url}/api/v1/ringostat/route", params={"token": TOKEN}, timeout=5
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "380441234567"  # nobody online


def test_workers_share_status_and_turns_through_redis(
    start_service: Callable[..., Service], sip: FakeSipStatus, redis_server: Redis
) -> None:
    sip.agents(online=["a_manager", "b_manager"])
    env = _env(
        sip,
        CALLGATE_REDIS_URL=redis_server.url,
        CALLGATE_WORKERS="3",
        CALLGATE_THREADS="1",
        CALLGATE_SIPSTATUS_TTL=f"{SIPSTATUS_TTL}s",
    )
    service = start_service(env)
    url = f"{service.url}/api/v1/ringostat/route/{TOKEN}"

    def warm() -> bool:
        # A fresh connection each time, so every worker gets asked until all are warm.
        answers = {requests.get(url, timeout=5).json()["destination"] for _ in range(12)}
        return "380441234567" not in answers

    wait_until(warm, 30, "the status shared")
    # A worker that started while another held the fetch lock, and that no request above
    # reached, adopts the shared status at its poller's next turn (every quarter of the TTL).
    time.sleep(SIPSTATUS_TTL / 2)
    assert warm()
    got = [requests.get(url, timeout=5).json()["destination"] for _ in range(6)]
    # One ledger for all processes: strict turns, whichever worker answers.
    assert got in (["a_manager", "b_manager"] * 3, ["b_manager", "a_manager"] * 3)
