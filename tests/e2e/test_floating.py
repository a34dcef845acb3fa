"""The floating launcher and its dialog, used with the keyboard only, on another origin."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    UTM_PARAMS,
    HostSite,
    console,
    focused,
    shoot,
    texts,
    wait_calls,
    widget_page,
)
from tests.fakes.provider import FakeProvider
from tests.servers import Service

EN = texts("en")


def _tab_to_launcher(page: Page) -> None:
    for _ in range(5):
        page.keyboard.press("Tab")
        if focused(page)["text"] == EN["launcher"]:
            return
    raise AssertionError(f"Tab never reached the launcher; focus is on {focused(page)}")


def test_keyboard_only_open_fill_submit_reaches_ringostat_with_attribution(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    url = host_site.add("/keyboard.html", widget_page(service.url, {"lang": "en"}))
    page = new_page(url + "?utm=ignored")
    launcher = page.get_by_role("button", name=EN["launcher"])
    expect(launcher).to_be_visible()
    shoot(page, "floating-1-launcher")

    _tab_to_launcher(page)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=EN["title"])
    expect(dialog).to_be_visible()
    assert focused(page)["name"] == "phone"
    shoot(page, "floating-2-dialog-open")

    page.keyboard.type("067 111 22 33")
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "name"
    page.keyboard.type("Ann")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == EN["submit"]
    page.keyboard.press("Enter")

    status = dialog.get_by_role("status")
    expect(status).to_have_text(EN["placed"], timeout=10_000)
    shoot(page, "floating-3-placed")
    [received] = wait_calls(ringostat, 1)
    params = received.json()["params"]
    assert params["caller"] == "380671112233"
    assert {k: params[k] for k in UTM_PARAMS} == UTM_PARAMS
    # The form is done and focus stayed in the dialog, on its close button.
    assert focused(page)["inDialog"] and focused(page)["text"] == "×"
    assert not [m for m in console(page) if "callgate" in m or "pageerror" in m]


def test_dialog_traps_tab_closes_on_escape_and_returns_focus(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    url = host_site.add("/a11y.html", widget_page(service.url, {"lang": "en"}))
    page = new_page(url)
    launcher = page.get_by_role("button", name=EN["launcher"])
    launcher.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=EN["title"])
    expect(dialog).to_have_attribute("aria-modal", "true")
    expect(dialog).to_have_accessible_description(EN["intro"])
    phone = dialog.get_by_label(EN["phone"])
    for name, value in {"type": "tel", "autocomplete": "tel", "inputmode": "tel"}.items():
        expect(phone).to_have_attribute(name, value)
    expect(dialog.get_by_role("button", name=EN["close"])).to_be_visible()

    seen = set()
    for _ in range(8):
        page.keyboard.press("Tab")
        now = focused(page)
        assert now["inDialog"], f"Tab left the dialog: {now}"
        seen.add(now["name"] or now["text"])
    assert seen == {"phone", "name", EN["submit"], "×"}  # the honeypot is never reached
    for _ in range(5):
        page.keyboard.press("Shift+Tab")
        assert focused(page)["inDialog"]

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert focused(page)["text"] == EN["launcher"]

    # A click on the backdrop closes it too; a click inside does not.
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    dialog.get_by_label(EN["phone"]).click()
    expect(dialog).to_be_visible()
    page.mouse.click(5, 5)
    expect(dialog).to_be_hidden()
    assert focused(page)["text"] == EN["launcher"]


def test_reduced_motion_turns_the_animation_off(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    url = host_site.add("/motion.html", widget_page(service.url, {"lang": "en"}))
    animation = "(d) => getComputedStyle(d).animationName"
    page = new_page(url, reduced_motion="reduce")
    page.get_by_role("button", name=EN["launcher"]).click()
    assert page.get_by_role("dialog").evaluate(animation) == "none"
    page = new_page(url, reduced_motion="no-preference")
    page.get_by_role("button", name=EN["launcher"]).click()
    assert page.get_by_role("dialog").evaluate(animation) == "cg"


def test_usable_at_320_css_pixels(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    url = host_site.add("/narrow.html", widget_page(service.url, {"lang": "uk"}))
    page = new_page(url, viewport={"width": 320, "height": 480}, locale="uk-UA")
    uk = texts("uk")
    launcher = page.get_by_role("button", name=uk["launcher"])
    box = launcher.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 320 and box["height"] >= 44
    launcher.click()
    dialog = page.get_by_role("dialog", name=uk["title"])
    box = dialog.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 320
    assert dialog.evaluate("(d) => d.scrollWidth <= d.clientWidth")
    shoot(page, "floating-320px-uk")
    submit = dialog.get_by_role("button", name=uk["submit"])
    dialog.get_by_label(uk["phone"]).fill("0671112233")
    submit.scroll_into_view_if_needed()
    submit.click()
    expect(dialog.get_by_role("status")).to_have_text(uk["placed"], timeout=10_000)
    wait_calls(ringostat, 1)


def test_each_language_shows_its_own_strings(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    for lang in ("uk", "ru", "en", "pl"):
        words = texts(lang)
        url = host_site.add(f"/lang-{lang}.html", widget_page(service.url, {"lang": lang}))
        page = new_page(url)
        page.get_by_role("button", name=words["launcher"]).click()
        dialog = page.get_by_role("dialog", name=words["title"])
        expect(dialog).to_have_attribute("lang", lang)
        expect(dialog.get_by_text(words["intro"])).to_be_visible()
        expect(dialog.get_by_label(words["phone"])).to_be_visible()
        expect(dialog.get_by_label(words["name"])).to_be_visible()
        expect(dialog.get_by_role("button", name=words["submit"])).to_be_visible()
        expect(dialog.get_by_role("button", name=words["close"])).to_be_visible()
        shoot(page, f"floating-lang-{lang}")


def test_without_data_lang_the_browser_language_then_english(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    url = host_site.add("/nolang.html", widget_page(service.url))
    page = new_page(url, locale="pl-PL")
    expect(page.get_by_role("button", name=texts("pl")["launcher"])).to_be_visible()
    page = new_page(url, locale="de-DE")
    expect(page.get_by_role("button", name=EN["launcher"])).to_be_visible()


def test_data_attributes_set_texts_position_colour_and_consent(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    attrs = {
        "lang": "en",
        "title": "Talk to sales",
        "button": "Ring me",
        "submit": "Ring",
        "intro": "Sales answer within a minute.",
        "position": "bottom-left",
        "color": "rgb(128, 0, 64)",
        "consent": "I agree to the privacy policy",
        "consent-url": "https://example.com/privacy",
    }
    url = host_site.add("/attrs.html", widget_page(service.url, attrs))
    page = new_page(url)
    launcher = page.get_by_role("button", name="Ring me")
    box = launcher.bounding_box()
    assert box and box["x"] < 100
    assert launcher.evaluate("(b) => getComputedStyle(b).backgroundColor") == "rgb(128, 0, 64)"
    launcher.click()
    dialog = page.get_by_role("dialog", name="Talk to sales")
    expect(dialog).to_have_accessible_description("Sales answer within a minute.")
    expect(dialog.get_by_role("button", name="Ring")).to_be_visible()
    expect(dialog.get_by_role("checkbox", name=attrs["consent"])).not_to_be_checked()
    link = dialog.get_by_role("link", name=EN["privacy"])
    expect(link).to_have_attribute("href", attrs["consent-url"])
    shoot(page, "floating-data-attributes")


def test_call_now_link_tel_and_rcmobile(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    for scheme, href in (
        ("", "tel:+380441234567"),
        ("rcmobile", "rcmobile://call?number=380441234567"),
    ):
        attrs = {"lang": "en", "call-now": "+380 44 123 45 67"}
        if scheme:
            attrs["call-now-scheme"] = scheme
        url = host_site.add(f"/call-now-{scheme or 'tel'}.html", widget_page(service.url, attrs))
        page = new_page(url)
        page.get_by_role("button", name=EN["launcher"]).click()
        link = page.get_by_role("dialog").get_by_role("link", name="+380 44 123 45 67")
        expect(link).to_have_attribute("href", href)
        expect(page.get_by_role("dialog").get_by_text(EN["call_now"])).to_be_visible()
    shoot(page, "floating-call-now")


def test_js_api_and_calls_queued_before_the_script_loaded(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    stub = (
        "<script>window.Callgate=window.Callgate||{q:[],open(){this.q.push(['open'])},"
        "close(){this.q.push(['close'])}};Callgate.open();</script>"
    )
    url = host_site.add("/queue.html", widget_page(service.url, {"lang": "en"}, head=stub))
    page = new_page(url)
    dialog = page.get_by_role("dialog", name=EN["title"])
    expect(dialog).to_be_visible()
    page.evaluate("Callgate.close()")
    expect(dialog).to_be_hidden()
    page.evaluate("Callgate.open()")
    expect(dialog).to_be_visible()
    assert page.evaluate("Callgate.loaded") is True


def test_scheduled_and_failed_states_are_shown(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    url = host_site.add("/states.html", widget_page(service.url, {"lang": "en"}))
    # "We will call you {day} at {time}.": today, or on a weekday, at the retry's time.
    days = "|".join(re.escape(day) for day in EN["days"].split(","))
    scheduled = re.escape(EN["scheduled"]).replace(r"\{day\}", f"({days})")
    scheduled = scheduled.replace(r"\{time\}", r"\d{1,2}:\d{2}( [AP]M)?")
    for statuses, expected, name in (
        ([503], re.compile(scheduled), "scheduled"),
        ([400], re.compile(re.escape(EN["failed"])), "failed"),
    ):
        ringostat.set(statuses=statuses)
        page = new_page(url)
        page.get_by_role("button", name=EN["launcher"]).click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label(EN["phone"]).fill("0671112233")
        dialog.get_by_label(EN["phone"]).press("Enter")
        expect(dialog.get_by_role("status")).to_have_text(expected, timeout=10_000)
        # Nothing is being placed now: no "we are calling you" countdown.
        expect(dialog.get_by_role("timer")).to_be_hidden()
        shoot(page, f"floating-4-{name}")
    # After a failure the visitor may ask again: the form is back, and unlocked.
    expect(dialog.get_by_label(EN["phone"])).to_be_visible()
    submit = dialog.get_by_role("button", name=EN["submit"])
    expect(submit).not_to_have_attribute("aria-disabled", "true")


def test_a_site_that_is_not_allowed_gets_a_console_warning_and_no_widget(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    host_site.add("/foreign.html", widget_page(service.url, {"lang": "en"}))
    # The same server under another origin, one that CALLGATE_ALLOWED_ORIGINS does not list.
    page = new_page(f"http://127.0.0.1:{host_site.port}/foreign.html")
    messages = console(page)
    for _ in range(200):  # console events arrive while Playwright waits
        if any(m.startswith("callgate: ") for m in messages):
            break
        page.wait_for_timeout(25)
    warnings = [m for m in messages if m.startswith("callgate: ")]
    assert warnings and "cannot load settings" in warnings[0], messages
    assert page.locator("callgate-widget").count() == 0
    assert not [m for m in messages if m.startswith("pageerror")]
