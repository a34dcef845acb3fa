"""What one submission sends: the idempotency key (reused on retry, new for a new submission,
with a fallback where ``crypto.randomUUID`` is missing), the honeypot, the copied cookies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import GA, RNGST2, HostSite, calls, texts, wait_calls, widget_page
from tests.fakes.provider import FakeProvider
from tests.servers import Service

EN = texts("en")
KEY = re.compile(r"^[A-Za-z0-9_\-:.]{8,128}$")


def _open(page: Page) -> Page:
    page.get_by_role("button", name=EN["launcher"]).click()
    return page


def test_a_retry_reuses_the_key_and_a_new_submission_gets_a_new_one(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    url = host_site.add("/retry.html", widget_page(service.url, {"lang": "en"}))
    page = _open(new_page(url))
    sent: list[dict[str, str]] = []

    def network(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        sent.append(
            {
                "key": route.request.headers["idempotency-key"],
                **json.loads(route.request.post_data or "{}"),
            }
        )
        # The first attempt is lost on the way; the others get through.
        route.abort() if len(sent) == 1 else route.continue_()

    page.route(f"{service.url}/api/v1/callbacks", network)
    dialog = page.get_by_role("dialog")
    phone = dialog.get_by_label(EN["phone"])
    status = dialog.get_by_role("status")
    phone.fill("abc")
    phone.press("Enter")  # lost: the network error is shown, the key kept
    expect(status).to_have_text(EN["error"])
    phone.press("Enter")  # the retry: same key, the service refuses the number
    expect(phone).to_have_attribute("aria-invalid", "true")
    phone.fill("067 111 22 33")  # a new submission: a new key
    phone.press("Enter")
    expect(status).to_have_text(EN["placed"], timeout=10_000)

    keys = [s["key"] for s in sent]
    assert len(keys) == 3 and all(KEY.match(k) for k in keys)
    assert keys[0] == keys[1] != keys[2]
    assert [s["phone"] for s in sent] == ["abc", "abc", "067 111 22 33"]
    last = sent[2]
    assert last["website"] == "" and last["page_url"] == url
    assert last["rngst2"] == RNGST2 and last["ga"] == GA
    assert last["form_token"] == sent[0]["form_token"]
    assert set(last) == {
        "key",
        "phone",
        "name",
        "website",
        "page_url",
        "rngst2",
        "ga",
        "form_token",
    }
    wait_calls(ringostat, 1)


def test_without_crypto_random_uuid_a_fallback_key_is_accepted(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    url = host_site.add("/no-uuid.html", widget_page(service.url, {"lang": "en"}))
    page = _open(new_page(url, init="delete Crypto.prototype.randomUUID;"))
    assert page.evaluate("typeof crypto.randomUUID") == "undefined"
    with page.expect_request(lambda r: r.method == "POST") as posted:
        dialog = page.get_by_role("dialog")
        dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
        dialog.get_by_label(EN["phone"]).press("Enter")
    key = posted.value.headers["idempotency-key"]
    assert KEY.match(key) and key.startswith("cg-")
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    wait_calls(ringostat, 1)


def test_a_filled_honeypot_is_refused_and_said_so(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    url = host_site.add("/bot.html", widget_page(service.url, {"lang": "en"}))
    page = _open(new_page(url))
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name=website]").fill("http://spam.example")
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    dialog.get_by_label(EN["phone"]).press("Enter")
    expect(dialog.get_by_role("status")).to_have_text(EN["honeypot"])
    assert calls(ringostat) == []


def test_without_cookies_nothing_is_invented(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    url = host_site.add("/no-cookies.html", widget_page(service.url, {"lang": "en"}))
    page = _open(new_page(url, cookies=False))
    dialog = page.get_by_role("dialog")
    with page.expect_request(lambda r: r.method == "POST") as posted:
        dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
        dialog.get_by_label(EN["phone"]).press("Enter")
    body = json.loads(posted.value.post_data or "{}")
    assert body["rngst2"] is None and body["ga"] is None
    [received] = wait_calls(ringostat, 1)
    params = received.json()["params"]
    assert not {"utmSource", "utmMedium", "utmCampaign", "clientId"} & set(params)
    assert params["caller"] == "380671112233"
