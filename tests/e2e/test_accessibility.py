"""axe-core (bundled by axe-playwright-python, run offline) finds no WCAG 2.1 A/AA violation
in any state of the widget: launcher, open dialog, field error, result; and the enhanced form."""

from __future__ import annotations

import json
from collections.abc import Callable

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.e2e.conftest import HostSite, texts, widget_page
from tests.e2e.test_enhance import SITE_CSS, site_form
from tests.servers import Service

EN = texts("en")
WCAG_21_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
_axe = Axe()


def assert_accessible(page: Page, state: str) -> None:
    # Colours are judged as they end up, not halfway through the opening fade.
    page.evaluate("Promise.all(document.getAnimations().map((a) => a.finished))")
    page.evaluate("""() => Promise.all([...document.querySelectorAll('callgate-widget')]
        .flatMap((w) => w.shadowRoot.getAnimations()).map((a) => a.finished))""")
    violations = _axe.run(page, options=WCAG_21_AA).response["violations"]
    report = [
        (v["id"], v["impact"], [(n["target"], n.get("failureSummary")) for n in v["nodes"]])
        for v in violations
    ]
    assert not report, f"{state}: {json.dumps(report, indent=1)}"


def test_every_floating_state_passes_axe(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    attrs = {
        "lang": "en",
        "call-now": "+380441234567",
        "consent": "I agree",
        "consent-url": "https://example.com/privacy",
    }
    url = host_site.add("/axe.html", widget_page(service.url, attrs))
    page = new_page(url)
    launcher = page.get_by_role("button", name=EN["launcher"])
    expect(launcher).to_be_visible()
    assert_accessible(page, "launcher")
    launcher.click()
    dialog = page.get_by_role("dialog", name=EN["title"])
    expect(dialog).to_be_visible()
    assert_accessible(page, "dialog open")
    dialog.get_by_label("I agree").check()
    phone = dialog.get_by_label(EN["phone"])
    phone.fill("abc")
    phone.press("Enter")
    expect(phone).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "field error")
    phone.fill("067 111 22 33")
    phone.press("Enter")
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    assert_accessible(page, "placed")


def test_enhanced_form_with_an_error_passes_axe(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    host_site.add("/site.css", SITE_CSS)
    url = host_site.add(
        "/axe-enhance.html",
        widget_page(
            service.url,
            {"lang": "en", "form": "#callback-form"},
            body=site_form(service, host_site, "/axe-enhance.html"),
            head='<link rel="stylesheet" href="/site.css">',
        ),
    )
    page = new_page(url)
    expect(page.locator(".callgate-status")).to_have_count(1)
    phone = page.get_by_label("Your phone")
    phone.fill("abc")
    phone.press("Enter")
    expect(phone).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "enhanced form, field error")
