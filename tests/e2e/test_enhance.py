"""Enhancing the site's own form (``data-form``), and the same form with no JavaScript at all."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    UTM_PARAMS,
    HostSite,
    focused,
    service_env,
    shoot,
    texts,
    wait_calls,
    widget_page,
)
from tests.fakes.provider import FakeProvider
from tests.servers import Service

EN = texts("en")
SITE_CSS = """.site-form { font: 18px Georgia, serif; color: rgb(40, 40, 90); }
.site-form button { background: rgb(200, 60, 0); color: white; border: 0; padding: 8px; }
.hp { position: absolute; left: -10000px; }"""


def site_form(service: Service, host: HostSite, path: str) -> str:
    """The README's plain-form snippet, as a site would paste it."""
    return f"""<form id="callback-form" class="site-form" method="post"
      action="{service.url}/api/v1/callbacks">
  <label for="phone">Your phone</label>
  <input id="phone" name="phone" type="tel" autocomplete="tel" inputmode="tel" required>
  <label for="name">Your name</label>
  <input id="name" name="name" autocomplete="name">
  <div class="hp" aria-hidden="true"><label for="website">Leave empty</label>
    <input id="website" name="website" tabindex="-1" autocomplete="off"></div>
  <input type="hidden" name="return_to" value="{host.origin}{path}">
  <button type="submit">Request a call</button>
</form>"""


def _page(host_site: HostSite, service: Service, path: str, **attrs: str) -> str:
    host_site.add("/site.css", SITE_CSS)
    return host_site.add(
        path,
        widget_page(
            service.url,
            {"lang": "en", "form": "#callback-form", **attrs},
            body=site_form(service, host_site, path),
            head='<link rel="stylesheet" href="/site.css">',
        ),
    )


def test_enhanced_form_posts_with_fetch_and_keeps_the_site_look(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    url = _page(host_site, service, "/enhance.html")
    page = new_page(url)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    status = page.locator(".callgate-status")
    expect(status).to_have_attribute("role", "status")
    assert page.locator("callgate-widget").count() == 0  # no launcher in this mode
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "phone"
    page.keyboard.type("abc")
    page.keyboard.press("Enter")
    error = page.locator("#callgate-err-phone")
    expect(error).to_have_text(EN["phone_invalid_characters"])
    phone = page.get_by_label("Your phone")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description(EN["phone_invalid_characters"])
    expect(status).to_have_text(EN["validation_error"])
    assert focused(page)["id"] == "phone"
    shoot(page, "enhance-1-error")

    page.keyboard.press("Control+A")
    page.keyboard.type("067 111 22 33")
    page.keyboard.press("Enter")
    expect(status).to_have_text(EN["placed"], timeout=10_000)
    expect(error).to_have_count(0)
    expect(phone).not_to_have_attribute("aria-invalid", "true")
    assert page.url == url  # no navigation: fetch, not a form post
    # The site's look is kept: its own font and button colours.
    assert "Georgia" in status.evaluate("(s) => getComputedStyle(s).fontFamily")
    button = page.get_by_role("button", name="Request a call")
    assert button.evaluate("(b) => getComputedStyle(b).backgroundColor") == "rgb(200, 60, 0)"
    shoot(page, "enhance-2-placed")
    [received] = wait_calls(ringostat, 1)
    params = received.json()["params"]
    assert params["caller"] == "380671112233"
    assert {k: params[k] for k in UTM_PARAMS} == UTM_PARAMS

    # The submission is done: submitting again sends nothing (a fetch would start at once).
    expect(button).to_have_attribute("aria-disabled", "true")
    button.click(force=True)
    phone.press("Enter")
    page.evaluate("1")  # a round trip: request events for anything sent have arrived
    assert posts == [f"{service.url}/api/v1/callbacks"] * 2  # the refused one, the good one


@pytest.fixture
def tokenless_service(
    host_site: HostSite, ringostat: FakeProvider, tmp_path: Path
) -> Iterator[Service]:
    """A service for sites whose form must also work without JavaScript: no form token."""
    env = {
        **service_env(host_site, ringostat, tmp_path / "plain.db"),
        "CALLGATE_FORM_TOKEN": "optional",
    }
    started = Service(env=env, log_path=tmp_path / "plain.log").start()
    yield started
    started.stop()


def test_without_javascript_the_plain_form_posts_and_comes_back(
    new_page: Callable[..., Page],
    host_site: HostSite,
    tokenless_service: Service,
    ringostat: FakeProvider,
) -> None:
    service = tokenless_service
    url = _page(host_site, service, "/nojs.html")
    page = new_page(url, java_script_enabled=False)
    page.get_by_label("Your phone").fill("067 111 22 33")
    page.get_by_role("button", name="Request a call").click()
    page.wait_for_url(re.compile(re.escape(url) + r"\?callgate=\w+"))
    lead_id = page.url.split("callgate=")[1]
    assert requests.get(f"{service.url}/api/v1/callbacks/{lead_id}", timeout=5).ok
    [received] = wait_calls(ringostat, 1)
    assert received.json()["params"]["caller"] == "380671112233"


def test_call_now_link_in_enhance_mode(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    url = _page(host_site, service, "/enhance-call-now.html", **{"call-now": "+380441234567"})
    page = new_page(url)
    link = page.get_by_role("link", name="+380441234567")
    expect(link).to_have_attribute("href", "tel:+380441234567")


def test_analytics_get_the_lead_id_and_nothing_personal(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    listen = (
        "<script>window.dataLayer = []; window.events = [];"
        "document.addEventListener('callgate:callback-requested',"
        " (e) => events.push(e.detail));</script>"
    )
    url = host_site.add("/analytics.html", widget_page(service.url, {"lang": "en"}, head=listen))
    page = new_page(url)
    page.get_by_role("button", name=EN["launcher"]).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    dialog.get_by_label(EN["name"]).fill("Ann Smith")
    dialog.get_by_role("button", name=EN["submit"]).click()
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    [pushed] = page.evaluate("dataLayer")
    [event] = page.evaluate("events")
    assert set(pushed) == {"event", "callgate_lead_id"}
    assert pushed["event"] == "callgate_callback_requested"
    assert event == {"leadId": pushed["callgate_lead_id"]}
    answer = requests.get(f"{service.url}/api/v1/callbacks/{event['leadId']}", timeout=5)
    assert answer.json()["status"] == "placed"
    everything = repr(page.evaluate("[dataLayer, events]"))
    for personal in ("111", "Ann", "Smith", "380", "GA1", "google"):
        assert personal not in everything


def test_no_data_layer_is_created_when_the_site_has_none(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    url = host_site.add("/no-datalayer.html", widget_page(service.url, {"lang": "en"}))
    page = new_page(url)
    page.get_by_role("button", name=EN["launcher"]).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    dialog.get_by_role("button", name=EN["submit"]).click()
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    assert page.evaluate("typeof window.dataLayer") == "undefined"


def test_demo_page_enhances_its_form_and_shows_the_launcher(
    new_page: Callable[..., Page], service: Service, ringostat: FakeProvider
) -> None:
    page = new_page(service.url + "/")
    expect(page.get_by_role("button", name=EN["launcher"])).to_be_visible()
    page.locator("#callback-form").get_by_label("Phone number").fill("067 111 22 33")
    page.get_by_role("button", name="Request a call").click()
    expect(page.locator(".callgate-status")).to_have_text(EN["placed"], timeout=10_000)
    assert page.url == service.url + "/"
    shoot(page, "demo-page-placed")
    wait_calls(ringostat, 1)
