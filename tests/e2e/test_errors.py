"""Refusals shown in place, in the visitor's language: a bad number, then the rate limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import HostSite, calls, focused, service_env, shoot, texts, widget_page
from tests.fakes.provider import FakeProvider
from tests.servers import Service

UK = texts("uk")


@pytest.fixture(scope="module")
def strict_service(
    host_site: HostSite, ringostat: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The service with a per-IP limit of one attempt a minute (the empty-number test sends
    nothing, so it does not use up that attempt)."""
    tmp_path = tmp_path_factory.mktemp("limited")
    env = {
        **service_env(host_site, ringostat, tmp_path / "limited.db"),
        "CALLGATE_LIMIT_PER_IP": "1/minute",
    }
    started = Service(env=env, log_path=tmp_path / "limited.log").start()
    yield started
    started.stop()


def test_bad_number_then_rate_limit_are_shown_in_place(
    new_page: Callable[..., Page],
    host_site: HostSite,
    strict_service: Service,
    ringostat: FakeProvider,
) -> None:
    url = host_site.add("/limited.html", widget_page(strict_service.url, {"lang": "uk"}))
    page = new_page(url)
    page.get_by_role("button", name=UK["launcher"]).click()
    dialog = page.get_by_role("dialog", name=UK["title"])
    phone = dialog.get_by_label(UK["phone"])
    status = dialog.get_by_role("status")

    phone.fill("abc")
    phone.press("Enter")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description(UK["phone_invalid_characters"])
    expect(dialog.get_by_text(UK["phone_invalid_characters"])).to_be_visible()
    expect(status).to_have_text(UK["validation_error"])
    assert focused(page)["name"] == "phone"
    shoot(page, "error-1-invalid-number-uk")

    phone.fill("067 111 22 33")
    phone.press("Enter")
    # Retry-After is at most a minute here: said as "in 1 minute", in Ukrainian.
    wait = page.evaluate("new Intl.RelativeTimeFormat('uk').format(1, 'minute')")
    expect(status).to_have_text(UK["rate_limited"].replace("{wait}", wait))
    expect(phone).not_to_have_attribute("aria-invalid", "true")
    shoot(page, "error-2-rate-limited-uk")
    assert calls(ringostat) == []


def test_empty_number_is_caught_before_sending(
    new_page: Callable[..., Page], host_site: HostSite, strict_service: Service
) -> None:
    url = host_site.add("/empty.html", widget_page(strict_service.url, {"lang": "uk"}))
    page = new_page(url)
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(r.method + " " + r.url))
    page.get_by_role("button", name=UK["launcher"]).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name=UK["submit"]).click()
    expect(dialog.get_by_label(UK["phone"])).to_have_accessible_description(UK["phone_missing"])
    assert not [r for r in requests_seen if r.startswith("POST")]
