"""``callgate serve`` with CALLGATE_LOG_FORMAT=json: every line gunicorn and callgate write is
one JSON object, gunicorn's own lines included, and a lead's number never appears in clear."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests

from tests.fakes.provider import FakeProvider
from tests.integration.conftest import RINGOSTAT_ENV
from tests.servers import Service, wait_until


def test_serve_writes_json_lines_only(
    start_service: Callable[..., Service], fake_ringostat: FakeProvider
) -> None:
    service = start_service(
        {
            **RINGOSTAT_ENV,
            "CALLGATE_RINGOSTAT_API_URL": fake_ringostat.url,
            "CALLGATE_LOG_FORMAT": "json",
        }
    )
    response = requests.post(
        f"{service.url}/api/v1/callbacks",
        json={"phone": "0671112233"},
        headers={"X-Request-ID": "gunicorn-json-1"},
        timeout=5,
    )
    assert response.status_code == 202
    assert response.headers["X-Request-ID"] == "gunicorn-json-1"
    lead_id = response.json()["id"]
    wait_until(lambda: "placed with" in service.log(), 15, "the lead to be placed")
    assert len(fake_ringostat.received) == 1
    service.stop()

    log = service.log()
    entries: list[dict[str, Any]] = [json.loads(line) for line in log.splitlines()]
    assert "380671112233" not in log and RINGOSTAT_ENV["CALLGATE_RINGOSTAT_AUTH_KEY"] not in log
    loggers = {entry["logger"] for entry in entries}
    assert "gunicorn.error" in loggers  # "Starting gunicorn", "Booting worker", shutdown
    request_line = next(e for e in entries if e.get("request_id") == "gunicorn-json-1")
    assert (request_line["logger"], request_line["lead_id"]) == ("callgate.http", lead_id)
    placed = next(e for e in entries if "placed with" in e["message"])
    assert placed["lead_id"] == lead_id
