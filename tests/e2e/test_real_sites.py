"""The widget on realistic and hostile host pages (issue 16): dark pages, right-to-left pages,
each 429's own words, its own time-outs, a page that broke a built-in, forced colours, a
transformed body, a later cookie bar, zoom, phones (bottom sheet), the countdown, per-site
texts and the countries served."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.e2e.conftest import (
    HostSite,
    service_env,
    shoot,
    texts,
    wait_calls,
    widget_page,
)
from tests.e2e.test_accessibility import assert_accessible
from tests.fakes.provider import FakeProvider
from tests.servers import Service

EN = texts("en")
# A page that can be dark: the browser's own colours, which follow the visitor's setting.
DARK_META = (
    '<meta name="color-scheme" content="dark light">'
    "<style>body{background:Canvas;color:CanvasText}a{color:LinkText}</style>"
)


def open_dialog(page: Page, lang: dict[str, str] = EN) -> Locator:
    page.get_by_role("button", name=lang["launcher"]).click()
    dialog = page.get_by_role("dialog", name=lang["title"])
    expect(dialog).to_be_visible()
    return dialog


def _luminance(rgb: str) -> float:
    channels = [int(c) / 255 for c in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def typed_text_contrast(field: Locator) -> tuple[float, str]:
    colours: dict[str, str] = field.evaluate(
        "(f) => ({color: getComputedStyle(f).color, bg: getComputedStyle(f).backgroundColor})"
    )
    return contrast(colours["color"], colours["bg"]), colours["bg"]


# 1 and 8: dark pages, and data-theme.
@pytest.mark.parametrize(
    ("head", "attrs", "scheme", "dark"),
    [
        (DARK_META, {}, "dark", True),  # the audit's page: typed text was white on white
        (DARK_META, {}, "light", False),
        ("", {}, "dark", False),  # a light-only page stays light on a dark system
        ("", {"theme": "dark"}, "light", True),
        (DARK_META, {"theme": "light"}, "dark", False),
    ],
)
def test_dark_pages_and_data_theme_keep_typed_text_readable(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    head: str,
    attrs: dict[str, str],
    scheme: str,
    dark: bool,
) -> None:
    name = f"/dark-{bool(head)}-{attrs.get('theme', 'auto')}.html"
    url = host_site.add(name, widget_page(service.url, {"lang": "en", **attrs}, head=head))
    page = new_page(url, color_scheme=scheme)
    dialog = open_dialog(page)
    phone = dialog.get_by_label(EN["phone"])
    phone.fill("067 111 22 33")
    ratio, background = typed_text_contrast(phone)
    assert ratio >= 4.5, (ratio, background)
    assert (_luminance(background) < 0.2) is dark, background
    assert_accessible(page, f"theme {name} {scheme}")
    if dark:
        shoot(page, f"dark-dialog{name}")


# 2: a right-to-left page.
def test_rtl_page_does_not_turn_the_english_dialog_around(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    body = widget_page(service.url, {"lang": "en"}).replace(
        '<html lang="en">', '<html dir="rtl" lang="ar">'
    )
    page = new_page(host_site.add("/rtl.html", body))
    launcher = page.get_by_role("button", name=EN["launcher"])
    expect(launcher).to_have_attribute("dir", "ltr")
    dialog = open_dialog(page)
    assert dialog.evaluate("(d) => getComputedStyle(d).direction") == "ltr"
    intro = dialog.get_by_text(EN["intro"])
    assert intro.evaluate("(p) => getComputedStyle(p).direction") == "ltr"
    # The close button sits at the end of an English line: on the right.
    close = dialog.get_by_role("button", name=EN["close"]).bounding_box()
    box = dialog.bounding_box()
    assert close and box and close["x"] > box["x"] + box["width"] / 2
    shoot(page, "rtl-host-english-dialog")


# 3: each 429 code's own words, waits in minutes or hours, in every language.
@pytest.fixture(scope="module")
def capped_service(
    host_site: HostSite, ringostat: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """One number an hour per address: a second, different number is too_many_numbers."""
    tmp = tmp_path_factory.mktemp("capped")
    env = {
        **service_env(host_site, ringostat, tmp / "capped.db"),
        "CALLGATE_MAX_NUMBERS_PER_IP": "1",
    }
    started = Service(env=env, log_path=tmp / "capped.log").start()
    yield started
    started.stop()


def in_words(page: Page, lang: str, amount: int, unit: str) -> str:
    said: str = page.evaluate(
        "([l, n, u]) => new Intl.RelativeTimeFormat(l).format(n, u)", [lang, amount, unit]
    )
    return said


def test_too_many_numbers_is_said_with_its_own_text_and_the_wait_in_hours(
    new_page: Callable[..., Page],
    host_site: HostSite,
    capped_service: Service,
    ringostat: FakeProvider,
) -> None:
    url = host_site.add("/capped.html", widget_page(capped_service.url, {"lang": "en"}))
    page = new_page(url)
    dialog = open_dialog(page)
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    dialog.get_by_label(EN["phone"]).press("Enter")
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    wait_calls(ringostat, 1)
    for lang in ("en", "uk", "ru", "pl"):
        words = texts(lang)
        other = new_page(
            host_site.add(f"/capped-{lang}.html", widget_page(capped_service.url, {"lang": lang}))
        )
        dialog = open_dialog(other, words)
        dialog.get_by_label(words["phone"]).fill("067 111 22 44")
        dialog.get_by_label(words["phone"]).press("Enter")
        # The service answers Retry-After: 3600, said as "in 1 hour".
        expected = words["too_many_numbers"].replace("{wait}", in_words(other, lang, 1, "hour"))
        expect(dialog.get_by_role("status")).to_have_text(expected)
        assert "3600" not in dialog.get_by_role("status").inner_text()
        shoot(other, f"too-many-numbers-{lang}")
    wait_calls(ringostat, 1)


@pytest.mark.parametrize(
    ("retry_after", "amount", "unit"),
    [("45", 1, "minute"), ("300", 5, "minute"), ("7200", 2, "hour")],
)
def test_rate_limited_waits_are_said_in_minutes_or_hours(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    retry_after: str,
    amount: int,
    unit: str,
) -> None:
    url = host_site.add("/limited-pl.html", widget_page(service.url, {"lang": "pl"}))
    words = texts("pl")

    def refuse(route: Route) -> None:
        # The service's own 429 shape (a global limit a test cannot reach in time).
        route.fulfill(
            status=429,
            headers={
                "Retry-After": retry_after,
                "Access-Control-Allow-Origin": host_site.origin,
                "Access-Control-Expose-Headers": "Retry-After",
            },
            content_type="application/problem+json",
            body='{"type":"about:blank","title":"Too many requests.","status":429,'
            '"code":"rate_limited","detail":"Too many call requests right now."}',
        )

    page = new_page(url, setup=lambda p: p.route(f"{service.url}/api/v1/callbacks", refuse))
    dialog = open_dialog(page, words)
    dialog.get_by_label(words["phone"]).fill("067 111 22 33")
    dialog.get_by_label(words["phone"]).press("Enter")
    expected = words["rate_limited"].replace("{wait}", in_words(page, "pl", amount, unit))
    expect(dialog.get_by_role("status")).to_have_text(expected)


# 4: the widget's own time-outs.
def test_a_post_the_network_holds_ends_in_an_error_and_a_retry_calls_once(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    url = host_site.add("/held.html", widget_page(service.url, {"lang": "en", "timeout": "2"}))
    held: list[Route] = []
    page = new_page(
        url,
        setup=lambda p: p.route(
            f"{service.url}/api/v1/callbacks", lambda route: held.append(route)
        ),
    )
    dialog = open_dialog(page)
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    dialog.get_by_label(EN["phone"]).press("Enter")
    status = dialog.get_by_role("status")
    expect(status).to_have_text(EN["sending"])
    # Held, never answered: the widget gives up after its time-out (2 s here), not the browser's.
    expect(status).to_have_text(EN["timeout"], timeout=8_000)
    submit = dialog.get_by_role("button", name=EN["submit"])
    expect(submit).not_to_have_attribute("aria-disabled", "true")
    assert len(held) == 1
    page.unroute(f"{service.url}/api/v1/callbacks")
    dialog.get_by_label(EN["phone"]).press("Enter")
    expect(status).to_have_text(EN["placed"], timeout=10_000)
    wait_calls(ringostat, 1)


def test_a_slow_widget_config_does_not_hold_the_launcher_back(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    url = host_site.add("/slow-config.html", widget_page(service.url, {"lang": "uk"}))
    held: list[Route] = []
    page = new_page(
        url,
        setup=lambda p: p.route(
            f"{service.url}/api/v1/widget-config*", lambda route: held.append(route)
        ),
    )
    uk = texts("uk")
    # The settings never came (yet): the launcher is up anyway, in the visitor's language.
    launcher = page.get_by_role("button", name=uk["launcher"])
    expect(launcher).to_be_visible(timeout=4_000)
    assert len(held) == 1
    # A click before the settings arrive is kept, and answered once they do.
    launcher.click()
    held[0].continue_()
    expect(page.get_by_role("dialog", name=uk["title"])).to_be_visible()


# 5: a page that broke a built-in.
def test_a_page_that_broke_array_filter_gets_no_error_and_a_working_widget(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    broken = "Array.prototype.filter = function () { throw new TypeError('filter is broken'); };"
    url = host_site.add("/broken.html", widget_page(service.url, {"lang": "en"}))
    page = new_page(url, init=broken)
    dialog = open_dialog(page)
    expect(dialog.get_by_label(EN["phone"])).to_be_visible()
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    dialog.get_by_label(EN["phone"]).press("Enter")
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    wait_calls(ringostat, 1)
    assert (
        page.evaluate(
            "() => { try { [1].filter(Boolean); return 'ok'; } catch (e) { return 'broken'; } }"
        )
        == "broken"
    )
    # new_page's teardown asserts that no pageerror reached the page.


# 6: forced colours.
BORDER = (
    "(e) => [getComputedStyle(e).borderTopStyle, parseFloat(getComputedStyle(e).borderTopWidth)]"
)


def test_forced_colours_give_every_control_a_visible_boundary(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    url = host_site.add("/forced.html", widget_page(service.url, {"lang": "en"}))
    page = new_page(url, forced_colors="active")
    assert page.evaluate("matchMedia('(forced-colors: active)').matches")
    launcher = page.get_by_role("button", name=EN["launcher"])
    dialog = open_dialog(page)
    controls = {
        "launcher": launcher,
        "dialog": dialog,
        "close": dialog.get_by_role("button", name=EN["close"]),
        "submit": dialog.get_by_role("button", name=EN["submit"]),
        "phone": dialog.get_by_label(EN["phone"]),
        "name": dialog.get_by_label(EN["name"]),
    }
    for name, control in controls.items():
        style, width = control.evaluate(BORDER)
        assert style != "none" and width >= 1, (name, style, width)
    shoot(page, "forced-colours-dialog")


# 7: reachability.
def test_a_transformed_body_and_a_later_cookie_bar_do_not_hide_the_launcher(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    head = "<style>body{transform:translateZ(0);min-height:3000px;margin:0}</style>"
    url = host_site.add("/transformed.html", widget_page(service.url, {"lang": "en"}, head=head))
    page = new_page(url, viewport={"width": 800, "height": 800})
    launcher = page.get_by_role("button", name=EN["launcher"])
    expect(launcher).to_be_visible()
    page.mouse.wheel(0, 2500)
    page.wait_for_function("window.scrollY > 2000")
    box = launcher.bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= 800, box
    # A cookie bar with the same (highest) z-index, added later, across the bottom.
    page.evaluate(
        """() => { const bar = document.createElement('div'); bar.id = 'cookies';
        bar.style.cssText = 'position:fixed;left:0;right:0;bottom:0;height:120px;'
          + 'z-index:2147483647;background:#222';
        document.body.append(bar); }"""
    )
    on_top = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).tagName.toLowerCase()",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert on_top == "callgate-widget"
    launcher.click()
    expect(page.get_by_role("dialog", name=EN["title"])).to_be_visible()
    shoot(page, "transformed-body-cookie-bar")


def test_at_200_percent_zoom_the_status_line_stays_in_view_after_an_error(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    attrs = {"lang": "en", "consent": "I agree to be called", "call-now": "+380441234567"}
    url = host_site.add("/zoom.html", widget_page(service.url, attrs))
    # 200 % of a 1024 x 640 window: 512 x 320 CSS pixels.
    page = new_page(url, viewport={"width": 512, "height": 320})
    dialog = open_dialog(page)
    dialog.get_by_role("button", name=EN["submit"]).click()
    status = dialog.get_by_role("status")
    expect(status).to_have_text(EN["validation_error"])
    page.wait_for_timeout(100)  # the scroll into view is instant, the layout settles
    line = status.bounding_box()
    seen = dialog.bounding_box()
    assert line and seen
    assert seen["y"] <= line["y"] and line["y"] + line["height"] <= seen["y"] + seen["height"]
    assert line["y"] + line["height"] <= 320


# 8: a bottom sheet on phones.
def test_on_a_phone_the_dialog_is_a_bottom_sheet(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    url = host_site.add("/phone.html", widget_page(service.url, {"lang": "en"}))
    page = new_page(url, viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    dialog = open_dialog(page)
    page.evaluate("""() => Promise.all([...document.querySelectorAll('callgate-widget')]
        .flatMap((w) => w.shadowRoot.getAnimations()).map((a) => a.finished))""")
    box = dialog.bounding_box()
    assert box and abs(box["width"] - 375) <= 1 and abs(box["y"] + box["height"] - 667) <= 1, box
    assert_accessible(page, "bottom sheet")
    shoot(page, "phone-bottom-sheet")


# 8: the countdown while the call is being placed, and per-site texts.
def test_a_countdown_runs_while_the_call_is_placed_and_texts_are_the_sites(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    attrs = {
        "lang": "en",
        "text-title": "Talk to a human",
        "text-placed": "Pick up: it is us.",
        "text-countdown": "Ringing you in {time}",
    }
    url = host_site.add("/countdown.html", widget_page(service.url, attrs))
    page = new_page(url, setup=lambda p: p.clock.install())
    page.get_by_role("button", name=EN["launcher"]).click()
    dialog = page.get_by_role("dialog", name="Talk to a human")
    expect(dialog).to_be_visible()
    dialog.get_by_label(EN["phone"]).fill("067 111 22 33")
    # Time stands still from here on, except when the test moves it.
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)
    dialog.get_by_label(EN["phone"]).press("Enter")
    timer = dialog.get_by_role("timer")
    for _ in range(100):
        page.clock.run_for(1)
        if timer.is_visible():
            break
        page.wait_for_timeout(50)
    expect(timer).to_have_text("Ringing you in 0:30")
    page.clock.run_for(12_000)
    expect(timer).to_have_text("Ringing you in 0:18")
    # The status polls run on the same clock: let them run until the call is placed.
    status = dialog.get_by_role("status")
    for _ in range(20):
        if status.inner_text() == "Pick up: it is us.":
            break
        page.clock.run_for(1_000)
        page.wait_for_timeout(100)
    expect(status).to_have_text("Pick up: it is us.")
    wait_calls(ringostat, 1)
    shoot(page, "countdown")


# 8: the countries served, named.
@pytest.mark.parametrize("lang", ["en", "uk"])
def test_a_refused_country_names_the_countries_served(
    new_page: Callable[..., Page], host_site: HostSite, service: Service, lang: str
) -> None:
    words = texts(lang)
    page = new_page(
        host_site.add(f"/country-{lang}.html", widget_page(service.url, {"lang": lang}))
    )
    dialog = open_dialog(page, words)
    phone = dialog.get_by_label(words["phone"])
    phone.fill("+48 12 345 67 89")
    phone.press("Enter")
    served: str = page.evaluate("(l) => new Intl.DisplayNames(l, {type: 'region'}).of('UA')", lang)
    expected = words["phone_country_not_allowed"].replace("{countries}", served)
    expect(phone).to_have_accessible_description(expected)
