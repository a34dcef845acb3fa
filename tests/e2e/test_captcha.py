"""The CAPTCHA in the widget's own dialog: a fake Turnstile and hCaptcha on loopback (their
scripts and their siteverify endpoint), the real service verifying what the widget sends."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.conftest import (
    HostSite,
    calls,
    console,
    focused,
    service_env,
    shoot,
    texts,
    wait_calls,
    widget_page,
)
from tests.e2e.test_accessibility import assert_accessible
from tests.fakes.captcha import CHALLENGE, SOLVE, FakeCaptcha
from tests.fakes.provider import FakeProvider
from tests.servers import Service, free_port

EN = texts("en")
SITE_KEY = "1x00000000000000000000AA"


@pytest.fixture(scope="module")
def vendor() -> Iterator[FakeCaptcha]:
    fake = FakeCaptcha().start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _fresh_vendor(vendor: FakeCaptcha) -> None:
    vendor.clear()


def captcha_service(
    tmp_path_factory: pytest.TempPathFactory,
    host_site: HostSite,
    ringostat: FakeProvider,
    vendor: FakeCaptcha,
    captcha: str,
    script_url: str,
) -> Service:
    tmp = tmp_path_factory.mktemp(captcha)
    env = {
        **service_env(host_site, ringostat, tmp / "callgate.db"),
        "CALLGATE_CAPTCHA": captcha,
        "CALLGATE_CAPTCHA_SECRET": f"{captcha}-secret",
        "CALLGATE_CAPTCHA_SITE_KEY": SITE_KEY,
        "CALLGATE_CAPTCHA_VERIFY_URL": f"{vendor.url}/siteverify",
        "CALLGATE_CAPTCHA_SCRIPT_URL": script_url,
    }
    return Service(env=env, log_path=tmp / "service.log").start()


@pytest.fixture(scope="module")
def turnstile(
    tmp_path_factory: pytest.TempPathFactory,
    host_site: HostSite,
    ringostat: FakeProvider,
    vendor: FakeCaptcha,
) -> Iterator[Service]:
    started = captcha_service(
        tmp_path_factory, host_site, ringostat, vendor, "turnstile", vendor.script_url("turnstile")
    )
    yield started
    started.stop()


def posts_to(page: Page, service: Service) -> list[dict[str, Any]]:
    """Every callback request the page sends, as JSON, filled in as they go out."""
    sent: list[dict[str, Any]] = []

    def record(request: Request) -> None:
        if request.method == "POST" and request.url == f"{service.url}/api/v1/callbacks":
            sent.append(json.loads(request.post_data or "{}"))

    page.on("request", record)
    return sent


def recording(urls: list[str]) -> Callable[[Page], None]:
    """A ``setup`` for ``new_page``: every URL the page requests goes to ``urls``, from before
    it navigates."""

    def setup(page: Page) -> None:
        page.on("request", lambda r: urls.append(r.url))

    return setup


def captcha_requests(urls: list[str], vendor: FakeCaptcha) -> list[str]:
    """Requests for our CAPTCHA module or for anything of the vendor's."""
    return [
        u
        for u in urls
        if urlsplit(u).path == "/widget-captcha.js" or u.startswith(vendor.url + "/")
    ]


def fake_record(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(
        "() => JSON.parse(JSON.stringify(window.__fakeCaptcha || null))"
    )
    return found


def launcher_ready(page: Page, lang: dict[str, str] = EN) -> None:
    """The widget has its settings (widget-config answered) and has mounted its launcher."""
    expect(page.get_by_role("button", name=lang["launcher"])).to_be_visible()


def open_dialog(page: Page, lang: dict[str, str] = EN) -> Any:
    page.get_by_role("button", name=lang["launcher"]).click()
    dialog = page.get_by_role("dialog", name=lang["title"])
    expect(dialog).to_be_visible()
    return dialog


def test_the_dialog_shows_the_captcha_and_sends_nothing_until_it_is_solved(
    new_page: Callable[..., Page],
    host_site: HostSite,
    turnstile: Service,
    vendor: FakeCaptcha,
    ringostat: FakeProvider,
) -> None:
    urls: list[str] = []
    page = new_page(
        host_site.add("/captcha.html", widget_page(turnstile.url, {"lang": "en"})),
        setup=recording(urls),
    )
    posts = posts_to(page, turnstile)
    # Nothing of the CAPTCHA before the dialog is opened, not even our own module: the widget
    # is ready (it imports the module on the first open only).
    launcher_ready(page)
    assert captcha_requests(urls, vendor) == [] and vendor.scripts == []
    dialog = open_dialog(page)
    captcha = page.get_by_role("group", name=EN["captcha"])
    solve = captcha.get_by_role("button", name=SOLVE)
    expect(solve).to_be_visible()
    # Shown inside the dialog, between the fields and the submit button.
    box, frame = captcha.bounding_box(), dialog.bounding_box()
    submit = dialog.get_by_role("button", name=EN["submit"])
    name_box, submit_box = dialog.get_by_label(EN["name"]).bounding_box(), submit.bounding_box()
    assert box and frame and name_box and submit_box
    assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]
    assert name_box["y"] < box["y"] < submit_box["y"]
    [render] = fake_record(page)["renders"]
    assert render["sitekey"] == SITE_KEY and render["language"] == "en"
    assert render["callbacks"] == ["callback", "error-callback", "expired-callback"]
    [script] = vendor.scripts
    assert script == "/turnstile/v0/api.js?render=explicit&onload=callgateCaptchaReady"
    # Our module, by the versioned path widget-config gives.
    etag = page.request.get(f"{turnstile.url}/widget-captcha.js").headers["etag"]
    version = etag.removeprefix("W/").strip('"')
    assert [u for u in urls if urlsplit(u).path == "/widget-captcha.js"] == [
        f"{turnstile.url}/widget-captcha.js?v={version}"
    ]
    shoot(page, "captcha-turnstile-shown")
    assert_accessible(page, "captcha shown")

    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    submit.click()
    status = dialog.get_by_role("status")
    expect(status).to_have_text(EN["captcha_missing"])
    assert focused(page)["tag"] == "callgate-captcha"
    # A post, had there been one, would have gone out (and been recorded) before this text.
    assert posts == [] and vendor.verified == []
    shoot(page, "captcha-turnstile-missing")
    assert_accessible(page, "captcha missing")

    solve.click()
    expect(status).to_have_text("")  # the reminder goes once the check is done
    submit.click()
    expect(status).to_have_text(EN["placed"], timeout=10_000)
    wait_calls(ringostat, 1)
    [sent] = posts
    assert sent["captcha_token"] == "fake-token-1"
    [verified] = vendor.verified
    assert verified.response == "fake-token-1" and verified.secret == "turnstile-secret"
    assert verified.remoteip == "127.0.0.1"
    shoot(page, "captcha-turnstile-placed")


def test_a_failed_verification_says_so_and_a_retry_needs_a_fresh_token(
    new_page: Callable[..., Page],
    host_site: HostSite,
    turnstile: Service,
    vendor: FakeCaptcha,
    ringostat: FakeProvider,
) -> None:
    page = new_page(host_site.add("/captcha-fail.html", widget_page(turnstile.url, {"lang": "en"})))
    posts = posts_to(page, turnstile)
    dialog = open_dialog(page)
    solve = page.get_by_role("button", name=SOLVE)
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    solve.click()
    vendor.accept = False
    submit = dialog.get_by_role("button", name=EN["submit"])
    submit.click()
    status = dialog.get_by_role("status")
    expect(status).to_have_text(EN["captcha_failed"], timeout=10_000)
    shoot(page, "captcha-verification-failed")
    assert vendor.responses() == ["fake-token-1"]
    # Reset: the used token is gone, so the same click sends nothing.
    assert fake_record(page)["resets"] == 1
    submit.click()
    expect(status).to_have_text(EN["captcha_missing"])
    assert len(posts) == 1

    vendor.accept = True
    solve.click()
    submit.click()
    expect(status).to_have_text(EN["placed"], timeout=10_000)
    assert vendor.responses() == ["fake-token-1", "fake-token-2"]
    assert [p["captcha_token"] for p in posts] == ["fake-token-1", "fake-token-2"]
    wait_calls(ringostat, 1)


def test_an_expired_token_is_not_sent(
    new_page: Callable[..., Page],
    host_site: HostSite,
    turnstile: Service,
    vendor: FakeCaptcha,
) -> None:
    page = new_page(
        host_site.add("/captcha-expired.html", widget_page(turnstile.url, {"lang": "en"}))
    )
    posts = posts_to(page, turnstile)
    dialog = open_dialog(page)
    page.get_by_role("button", name=SOLVE).click()
    page.evaluate("() => window.__fakeCaptcha.expire()")
    assert fake_record(page)["resets"] == 1
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    dialog.get_by_role("button", name=EN["submit"]).click()
    expect(dialog.get_by_role("status")).to_have_text(EN["captcha_missing"])
    # A post, had there been one, would have gone out (and been recorded) before this text.
    assert posts == [] and vendor.verified == []


@pytest.mark.parametrize("lang", ["uk", "ru", "pl", "en"])
def test_the_captcha_and_its_reminder_speak_the_widget_language(
    new_page: Callable[..., Page],
    host_site: HostSite,
    turnstile: Service,
    lang: str,
) -> None:
    words = texts(lang)
    page = new_page(
        host_site.add(f"/captcha-{lang}.html", widget_page(turnstile.url, {"lang": lang}))
    )
    dialog = open_dialog(page, words)
    captcha = page.get_by_role("group", name=words["captcha"])
    expect(captcha.get_by_role("button", name=SOLVE)).to_be_visible()
    assert fake_record(page)["renders"][0]["language"] == lang
    # The box sits in the host page's DOM (lang="en"), yet speaks the widget's language.
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(captcha).to_have_attribute("lang", lang)
    dialog.get_by_label(words["phone"]).fill("067 111 22 33")
    dialog.get_by_label(words["phone"]).press("Enter")
    expect(dialog.get_by_role("status")).to_have_text(words["captcha_missing"])


def test_the_keyboard_reaches_the_captcha_inside_the_focus_trap(
    new_page: Callable[..., Page],
    host_site: HostSite,
    turnstile: Service,
    ringostat: FakeProvider,
) -> None:
    page = new_page(host_site.add("/captcha-keys.html", widget_page(turnstile.url, {"lang": "en"})))
    dialog = open_dialog(page)
    expect(page.get_by_role("button", name=SOLVE)).to_be_visible()
    page.keyboard.type("0671112233")
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "name"
    page.keyboard.press("Tab")
    assert focused(page)["text"] == SOLVE
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == EN["submit"]
    page.keyboard.press("Shift+Tab")
    assert focused(page)["text"] == SOLVE
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page)["cls"] == "x"  # wrapped round to the first: the close button
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    wait_calls(ringostat, 1)


@pytest.fixture(scope="module")
def hcaptcha(
    tmp_path_factory: pytest.TempPathFactory,
    host_site: HostSite,
    ringostat: FakeProvider,
    vendor: FakeCaptcha,
) -> Iterator[Service]:
    started = captcha_service(
        tmp_path_factory, host_site, ringostat, vendor, "hcaptcha", vendor.script_url("hcaptcha")
    )
    yield started
    started.stop()


IN_OPEN_DIALOG = """(el) => {
  const slot = el.closest('callgate-captcha')?.assignedSlot;
  return !!slot && slot.closest('dialog')?.open === true && slot.getRootNode().host?.localName;
}"""


def test_hcaptcha_challenge_opens_inside_the_dialog_and_its_token_is_sent(
    new_page: Callable[..., Page],
    host_site: HostSite,
    hcaptcha: Service,
    vendor: FakeCaptcha,
    ringostat: FakeProvider,
) -> None:
    page = new_page(host_site.add("/hcaptcha.html", widget_page(hcaptcha.url, {"lang": "uk"})))
    words = texts("uk")
    posts = posts_to(page, hcaptcha)
    dialog = open_dialog(page, words)
    page.get_by_role("button", name=SOLVE).click()
    [render] = fake_record(page)["renders"]
    assert render["sitekey"] == SITE_KEY and render["hl"] == "uk" and "language" not in render
    assert render["challenge-container"] == "callgate-captcha"
    assert vendor.scripts == ["/1/api.js?render=explicit&onload=callgateCaptchaReady"]
    # The image challenge: in our box, so inside the open modal dialog, not in document.body.
    challenge = page.locator("[data-fake-challenge]")
    expect(challenge).to_have_count(1)
    assert challenge.evaluate(IN_OPEN_DIALOG) == "callgate-widget"
    shoot(page, "captcha-hcaptcha-challenge")
    # Playwright's click waits for the element to receive the click: under the backdrop of a
    # modal dialog (inert) it never would, and this would time out.
    page.get_by_role("button", name=CHALLENGE).click(timeout=5_000)
    expect(challenge).to_have_count(0)
    dialog.get_by_label(words["phone"]).fill("067 111 22 33")
    dialog.get_by_role("button", name=words["submit"]).click()
    expect(dialog.get_by_role("status")).to_have_text(words["placed"], timeout=10_000)
    wait_calls(ringostat, 1)
    assert [p["captcha_token"] for p in posts] == ["fake-token-1"]
    [verified] = vendor.verified
    assert verified.response == "fake-token-1" and verified.secret == "hcaptcha-secret"
    shoot(page, "captcha-hcaptcha-placed")


def test_the_fake_hcaptcha_challenge_outside_a_modal_dialog_cannot_be_clicked(
    new_page: Callable[..., Page], host_site: HostSite, vendor: FakeCaptcha
) -> None:
    """The control for the test above: without ``challenge-container`` the fake's pop-up goes
    to document.body, where the modal dialog's backdrop covers it, and the click fails."""
    page = new_page(
        host_site.add(
            "/hcaptcha-body.html",
            '<!doctype html><html lang="en"><head><title>Modal</title></head><body>'
            '<dialog><div id="box"></div></dialog>'
            f'<script src="{vendor.script_url("hcaptcha")}"></script></body></html>',
        )
    )
    page.evaluate(
        """() => { document.querySelector('dialog').showModal();
        hcaptcha.render(document.getElementById('box'), {sitekey: 'k', callback() {}}); }"""
    )
    page.get_by_role("button", name=SOLVE).click()
    assert page.locator("[data-fake-challenge]").evaluate("(el) => el.parentElement.localName") == (
        "body"
    )
    with pytest.raises(PlaywrightTimeoutError):
        page.get_by_role("button", name=CHALLENGE).click(timeout=1_500)


def test_without_a_captcha_nothing_more_is_loaded(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
    vendor: FakeCaptcha,
) -> None:
    urls: list[str] = []
    page = new_page(
        host_site.add("/no-captcha.html", widget_page(service.url, {"lang": "en"})),
        setup=recording(urls),
    )
    # Ready: the launcher is up, so widget-config has answered (the settings it shows).
    launcher_ready(page)
    from_service = [u for u in urls if u.startswith(service.url + "/")]
    assert [urlsplit(u).path for u in from_service] == ["/widget.js", "/api/v1/widget-config"]
    assert all(u.startswith((service.url + "/", host_site.origin + "/")) for u in urls), urls
    dialog = open_dialog(page)
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    dialog.get_by_role("button", name=EN["submit"]).click()
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    wait_calls(ringostat, 1)
    # Nor once the dialog was opened and used: no module, no vendor, no box.
    assert captcha_requests(urls, vendor) == [] and vendor.scripts == []
    assert all(u.startswith((service.url + "/", host_site.origin + "/")) for u in urls), urls
    assert page.locator("callgate-captcha").count() == 0
    assert "captcha_token" not in json.loads(calls(ringostat)[0].body)


def test_a_captcha_module_that_cannot_load_is_an_error_and_sends_nothing(
    new_page: Callable[..., Page],
    host_site: HostSite,
    turnstile: Service,
    vendor: FakeCaptcha,
    ringostat: FakeProvider,
) -> None:
    def refuse_module(page: Page) -> None:
        page.route("**/widget-captcha.js*", lambda route: route.abort())

    page = new_page(
        host_site.add("/captcha-no-module.html", widget_page(turnstile.url, {"lang": "uk"})),
        setup=refuse_module,
    )
    words = texts("uk")
    posts = posts_to(page, turnstile)
    dialog = open_dialog(page, words)
    status = dialog.get_by_role("status")
    expect(status).to_have_text(words["captcha_load_failed"])
    assert any(m.startswith("callgate: captcha_load_failed") for m in console(page))
    dialog.get_by_label(words["phone"]).fill("067 111 22 33")
    status.evaluate("(s) => { s.textContent = ''; }")
    dialog.get_by_role("button", name=words["submit"]).click()
    # Said again (it was cleared); a post would have gone out before it.
    expect(status).to_have_text(words["captcha_load_failed"])
    assert posts == [] and calls(ringostat) == [] and vendor.scripts == []


def test_a_vendor_script_that_never_answers_fails_after_the_load_timeout(
    new_page: Callable[..., Page],
    host_site: HostSite,
    turnstile: Service,
    vendor: FakeCaptcha,
) -> None:
    # The vendor accepts the connection and never answers; the page's clock is ours to move,
    # so the widget's 15-second limit passes without waiting 15 seconds.
    vendor.hold()
    page = new_page(
        host_site.add("/captcha-hanging.html", widget_page(turnstile.url, {"lang": "en"})),
        setup=lambda p: p.clock.install(),
    )
    posts = posts_to(page, turnstile)
    dialog = open_dialog(page)
    # The module has asked for the script (and set its timer in the same breath).
    vendor.seen("/turnstile/v0/api.js?render=explicit&onload=callgateCaptchaReady")
    status = dialog.get_by_role("status")
    page.clock.run_for(14_000)
    expect(status).to_have_text("")
    page.clock.run_for(1_500)
    expect(status).to_have_text(EN["captcha_load_failed"])
    assert any(m.startswith("callgate: captcha_load_failed") for m in console(page))
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    status.evaluate("(s) => { s.textContent = ''; }")
    dialog.get_by_role("button", name=EN["submit"]).click()
    expect(status).to_have_text(EN["captcha_load_failed"])
    assert posts == []


def test_a_vendor_script_the_page_is_still_loading_is_not_loaded_twice(
    new_page: Callable[..., Page],
    host_site: HostSite,
    turnstile: Service,
    vendor: FakeCaptcha,
    ringostat: FakeProvider,
) -> None:
    # The site has Turnstile on its own form: its <script> is still loading (held) when the
    # visitor opens our dialog.
    own = vendor.script_url("turnstile")
    vendor.hold()
    page = new_page(
        host_site.add(
            "/captcha-page-has-vendor.html",
            widget_page(turnstile.url, {"lang": "en"}, head=f'<script src="{own}" async></script>'),
        ),
        wait_until="domcontentloaded",
    )
    posts = posts_to(page, turnstile)
    dialog = open_dialog(page)
    # The module has run (it adds its box, then looks for the vendor's script at once) ...
    expect(page.locator("callgate-captcha")).to_be_attached()
    assert page.evaluate("typeof window.turnstile") == "undefined"
    # ... and waits for the page's copy to arrive.
    vendor.release()
    page.get_by_role("button", name=SOLVE).click()
    assert vendor.scripts == ["/turnstile/v0/api.js?render=explicit"]
    [render] = fake_record(page)["renders"]
    assert render["sitekey"] == SITE_KEY
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    dialog.get_by_role("button", name=EN["submit"]).click()
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    wait_calls(ringostat, 1)
    assert [p["captcha_token"] for p in posts] == ["fake-token-1"]
    # Still exactly one request for it, from the page.
    assert vendor.scripts == ["/turnstile/v0/api.js?render=explicit"]


@pytest.fixture(scope="module")
def unreachable_vendor(
    tmp_path_factory: pytest.TempPathFactory,
    host_site: HostSite,
    ringostat: FakeProvider,
    vendor: FakeCaptcha,
) -> Iterator[Service]:
    # Nothing listens there: the vendor's script cannot load (offline, or blocked).
    script_url = f"http://127.0.0.1:{free_port()}/turnstile/v0/api.js?render=explicit"
    started = captcha_service(
        tmp_path_factory, host_site, ringostat, vendor, "turnstile", script_url
    )
    yield started
    started.stop()


def test_a_vendor_script_that_cannot_load_is_an_error_not_a_hang(
    new_page: Callable[..., Page],
    host_site: HostSite,
    unreachable_vendor: Service,
    ringostat: FakeProvider,
) -> None:
    page = new_page(
        host_site.add("/captcha-offline.html", widget_page(unreachable_vendor.url, {"lang": "en"}))
    )
    posts = posts_to(page, unreachable_vendor)
    dialog = open_dialog(page)
    status = dialog.get_by_role("status")
    expect(status).to_have_text(EN["captcha_load_failed"], timeout=5_000)
    shoot(page, "captcha-vendor-offline")
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    status.evaluate("(s) => { s.textContent = ''; }")
    dialog.get_by_role("button", name=EN["submit"]).click()
    # Said again (it was cleared); a post would have gone out before it.
    expect(status).to_have_text(EN["captcha_load_failed"])
    assert posts == [] and calls(ringostat) == []
    assert any(m.startswith("callgate: captcha_load_failed") for m in console(page))


RECORD_VIOLATIONS = """window.__violations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI), true);"""
NONCE = "cg-nonce-0123456789"


@pytest.mark.parametrize(
    ("name", "scripts"),
    [
        # The README's way: the service's and the vendor's origins, and the vendor's frames.
        ("allowlist", "script-src {service} {vendor}; frame-src {vendor}"),
        # A nonce on widget.js, and 'strict-dynamic' for what it loads (allowlists are ignored).
        ("strict-dynamic", f"script-src 'nonce-{NONCE}' 'strict-dynamic' {{service}}"),
        # Only named Trusted Types policies: ours is "callgate".
        ("named-policy", "script-src {service} {vendor}; trusted-types callgate"),
    ],
)
def test_strict_csp_and_trusted_types_pages_get_the_captcha(
    new_page: Callable[..., Page],
    host_site: HostSite,
    turnstile: Service,
    vendor: FakeCaptcha,
    ringostat: FakeProvider,
    name: str,
    scripts: str,
) -> None:
    csp = (
        "default-src 'none'; "
        + scripts.format(service=turnstile.url, vendor=vendor.url)
        + f"; connect-src {turnstile.url}; style-src 'self'; base-uri 'none'; "
        "require-trusted-types-for 'script'"
    )
    body = widget_page(turnstile.url, {"lang": "en"}).replace(
        "<script src=", f'<script nonce="{NONCE}" src='
    )
    page = new_page(
        host_site.add(f"/captcha-csp-{name}.html", body, {"Content-Security-Policy": csp}),
        init=RECORD_VIOLATIONS,
    )
    dialog = open_dialog(page)
    page.get_by_role("button", name=SOLVE).click()
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    dialog.get_by_role("button", name=EN["submit"]).click()
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    wait_calls(ringostat, 1)
    assert vendor.responses() == ["fake-token-1"]
    assert page.evaluate("window.__violations") == []


def test_a_page_whose_trusted_types_refuse_ours_gets_an_error_not_a_hang(
    new_page: Callable[..., Page],
    host_site: HostSite,
    turnstile: Service,
    vendor: FakeCaptcha,
) -> None:
    csp = (
        f"default-src 'none'; script-src {turnstile.url} {vendor.url}; "
        f"connect-src {turnstile.url}; require-trusted-types-for 'script'; trusted-types 'none'"
    )
    url = host_site.add(
        "/captcha-tt-refused.html",
        widget_page(turnstile.url, {"lang": "en"}),
        {"Content-Security-Policy": csp},
    )
    page = new_page(url)
    posts = posts_to(page, turnstile)
    dialog = open_dialog(page)
    status = dialog.get_by_role("status")
    expect(status).to_have_text(EN["captcha_load_failed"], timeout=5_000)
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    status.evaluate("(s) => { s.textContent = ''; }")
    dialog.get_by_role("button", name=EN["submit"]).click()
    # Said again (it was cleared); a post would have gone out before it.
    expect(status).to_have_text(EN["captcha_load_failed"])
    assert posts == [] and vendor.scripts == []
