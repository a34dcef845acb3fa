"""The widget with the service's defences at their defaults: the signed form token's minimum
age (2 s) and, when the service requires it, the consent checkbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import HostSite, service_env, shoot, texts, wait_calls, widget_page
from tests.fakes.provider import FakeProvider
from tests.servers import Service

EN = texts("en")


@pytest.fixture(scope="module")
def guarded_service(
    host_site: HostSite, ringostat: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("guarded")
    env = {
        **service_env(host_site, ringostat, tmp / "guarded.db"),
        "CALLGATE_FORM_TOKEN_MIN_AGE": "2s",
        "CALLGATE_REQUIRE_CONSENT": "true",
    }
    started = Service(env=env, log_path=tmp / "guarded.log").start()
    yield started
    started.stop()


def test_consent_is_asked_and_a_fast_visitor_is_not_refused(
    new_page: Callable[..., Page],
    host_site: HostSite,
    guarded_service: Service,
    ringostat: FakeProvider,
) -> None:
    url = host_site.add("/guarded.html", widget_page(guarded_service.url, {"lang": "en"}))
    page = new_page(url)
    posts: list[dict[str, object]] = []
    page.on(
        "request",
        lambda r: posts.append(json.loads(r.post_data or "{}")) if r.method == "POST" else None,
    )
    page.get_by_role("button", name=EN["launcher"]).click()
    dialog = page.get_by_role("dialog")
    consent = dialog.get_by_label(EN["consent"])
    expect(consent).not_to_be_checked()
    phone = dialog.get_by_label(EN["phone"])
    phone.fill("067 111 22 33")
    phone.press("Enter")
    expect(consent).to_have_accessible_description(EN["consent_required"])
    assert posts == []  # caught before sending
    shoot(page, "defences-consent-required")

    # Sent at once after loading: the widget waits out the token's minimum age itself.
    consent.check()
    phone.press("Enter")
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    assert len(posts) == 1
    assert posts[0]["consent"] is True and posts[0]["form_token"]
    wait_calls(ringostat, 1)


def test_an_expired_token_is_renewed_and_the_submission_sent_again(
    new_page: Callable[..., Page],
    host_site: HostSite,
    guarded_service: Service,
    ringostat: FakeProvider,
) -> None:
    url = host_site.add("/stale.html", widget_page(guarded_service.url, {"lang": "en"}))
    page = new_page(url)
    page.get_by_role("button", name=EN["launcher"]).click()
    posts: list[dict[str, object]] = []
    page.on(
        "request",
        lambda r: posts.append(json.loads(r.post_data or "{}")) if r.method == "POST" else None,
    )
    # As if the tab had been left open for a day: the token no longer verifies.
    page.route(
        f"{guarded_service.url}/api/v1/callbacks",
        lambda route: (
            route.continue_(
                post_data=json.dumps(
                    {**json.loads(route.request.post_data or "{}"), "form_token": "1.forged"}
                )
            )
            if len(posts) == 1
            else route.continue_()
        ),
    )
    dialog = page.get_by_role("dialog")
    dialog.get_by_label(EN["consent"]).check()
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    dialog.get_by_label(EN["phone"]).press("Enter")
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=15_000)
    assert len(posts) == 2
    assert posts[0]["form_token"] != posts[1]["form_token"]
    wait_calls(ringostat, 1)
