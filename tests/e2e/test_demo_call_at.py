"""The demo page in Chromium without JavaScript: with office hours, its form's server-rendered
``<select name="call_at">`` books the chosen slot; left on "As soon as possible" it calls now."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page

from tests.e2e.conftest import HostSite, service_env, wait_calls
from tests.fakes.provider import FakeProvider
from tests.servers import Service


@pytest.fixture
def office_service(
    host_site: HostSite, ringostat: FakeProvider, tmp_path: Path
) -> Iterator[Service]:
    """Open around the clock but for one closed date far ahead: office hours are configured."""
    env = {
        **service_env(host_site, ringostat, tmp_path / "office.db"),
        "CALLGATE_OFFICE_HOURS": "Mon-Sun 00:00-24:00",
        "CALLGATE_SPECIAL_HOURS": "2099-01-01 closed",
    }
    started = Service(env=env, log_path=tmp_path / "office.log").start()
    yield started
    started.stop()


def _submit(page: Page, choice: str | None) -> dict[str, str]:
    """Fill and post the form by keyboard, as a visitor without JavaScript; the lead's status."""
    page.get_by_label("Phone number").fill("067 111 22 33")
    if choice is not None:
        page.get_by_label("When to call").select_option(choice)
    page.get_by_label("Phone number").press("Enter")
    page.wait_for_url(re.compile(r"/thanks\?callgate=[\w-]+"))
    lead_id = page.url.split("callgate=")[1]
    base = page.url.split("/thanks")[0]
    body: dict[str, str] = requests.get(f"{base}/api/v1/callbacks/{lead_id}", timeout=5).json()
    return body


def test_the_no_js_select_books_the_chosen_slot(
    new_page: Callable[..., Page], office_service: Service
) -> None:
    page = new_page(f"{office_service.url}/", java_script_enabled=False)
    select = page.get_by_label("When to call")
    values = select.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert values[0] == "" and len(values) > 3
    assert select.input_value() == ""  # "As soon as possible" unless chosen
    chosen = values[3]  # a slot ahead, not the one under way
    lead = _submit(page, chosen)
    assert lead["status"] == "scheduled"
    assert datetime.fromisoformat(lead["scheduled_for"]) == datetime.fromisoformat(chosen)


def test_the_no_js_select_left_as_is_calls_now(
    new_page: Callable[..., Page], office_service: Service, ringostat: FakeProvider
) -> None:
    page = new_page(f"{office_service.url}/", java_script_enabled=False)
    lead = _submit(page, None)
    assert lead["status"] in ("queued", "dispatching", "placed")
    [received] = wait_calls(ringostat, 1)
    assert received.json()["params"]["caller"] == "380671112233"
