"""JSON log lines of the app: the request id and the lead id ride along, numbers stay masked."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.conftest import services

URL = "/api/v1/callbacks"


def _entries(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines()]


def test_request_line_carries_request_id_lead_id_and_fields(
    capsys: pytest.CaptureFixture[str], make_app: Callable[..., Flask]
) -> None:
    client = make_app(log_format="json").test_client()
    response = client.post(URL, json={"phone": "0671112233"}, headers={"X-Request-ID": "rid-42"})
    assert response.status_code == 202
    assert response.headers["X-Request-ID"] == "rid-42"
    err = capsys.readouterr().err
    assert "380671112233" not in err
    line = next(e for e in _entries(err) if e["logger"] == "callgate.http")
    assert line["request_id"] == "rid-42"
    assert line["lead_id"] == response.get_json()["id"]
    assert (line["method"], line["path"], line["status"]) == ("POST", URL, 202)
    assert line["level"] == "INFO" and line["message"].startswith("rid=rid-42 POST")


def test_an_insane_request_id_is_replaced_and_the_new_one_logged(
    capsys: pytest.CaptureFixture[str], make_app: Callable[..., Flask]
) -> None:
    client = make_app(log_format="json").test_client()
    response = client.get("/healthz", headers={"X-Request-ID": "no spaces; <script>"})
    given = response.headers["X-Request-ID"]
    assert len(given) == 32
    line = next(e for e in _entries(capsys.readouterr().err) if e["logger"] == "callgate.http")
    assert line["request_id"] == given
    assert "lead_id" not in line  # no lead in a health check


def test_ids_do_not_leak_into_the_next_request(
    capsys: pytest.CaptureFixture[str], make_app: Callable[..., Flask]
) -> None:
    client = make_app(log_format="json").test_client()
    client.post(URL, json={"phone": "0671112233"}, headers={"X-Request-ID": "first"})
    client.get("/healthz", headers={"X-Request-ID": "second"})
    lines = [e for e in _entries(capsys.readouterr().err) if e["logger"] == "callgate.http"]
    assert [e["request_id"] for e in lines] == ["first", "second"]
    assert "lead_id" in lines[0] and "lead_id" not in lines[1]


def test_dispatch_lines_carry_the_lead_id(
    capsys: pytest.CaptureFixture[str], make_app: Callable[..., Flask]
) -> None:
    app = make_app(log_format="json")
    lead_id = app.test_client().post(URL, json={"phone": "0671112233"}).get_json()["id"]
    capsys.readouterr()
    assert services(app).dispatcher.run_once()
    lines = _entries(capsys.readouterr().err)
    assert lines and all(e["lead_id"] == lead_id for e in lines)
    assert all("request_id" not in e for e in lines)  # not an HTTP request
    assert any(e["logger"] == "callgate.providers.dry_run" for e in lines), lines
