"""The dialog with office hours (issue 12 item 5): while closed it says when the office opens and
offers times; while open, "Call me now" or "Choose a time". The picker (``/widget-picker.js``,
imported only when needed) is a native select in the visitor's language and time zone, naming the
office's zone when it differs; keyboard only books a slot; ``call_at_*`` refusals have their own
words; and the widget copies GA4's ``_ga_<stream>`` cookie as ``ga_session`` (issue 13 item 3).

Two services with office hours in Europe/Kyiv: one closed all of today (``CALLGATE_SPECIAL_HOURS``)
and open 09:00-11:00 on the following days; one open all day but the last minute."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import Locator, Page, Route, expect

from tests.e2e.conftest import HostSite, service_env, shoot, texts, widget_page
from tests.e2e.test_accessibility import assert_accessible
from tests.fakes.provider import FakeProvider
from tests.servers import Service

OFFICE = ZoneInfo("Europe/Kyiv")
LANGS = ("en", "uk", "ru", "pl")
LOCALES = {"en": "en-GB", "uk": "uk-UA", "ru": "ru-RU", "pl": "pl-PL"}
CALL_AT_CODES = (
    "call_at_invalid",
    "call_at_past",
    "call_at_closed",
    "call_at_too_far",
    "call_at_full",
)
GA4_ID = "G-PICK123"
GA4_COOKIE = "_ga_PICK123"
GA4_SESSION = "GS1.1.1700000000.3.1.1700000500.0.0.0"


def _hours_service(
    name: str,
    extra: dict[str, str],
    host_site: HostSite,
    ringostat: FakeProvider,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp(name)
    env = {
        **service_env(host_site, ringostat, tmp / f"{name}.db"),
        "CALLGATE_TIMEZONE": "Europe/Kyiv",
        **extra,
    }
    started = Service(env=env, log_path=tmp / f"{name}.log").start()
    yield started
    started.stop()


def _closed_today() -> dict[str, str]:
    """Office hours closed all of today in Kyiv, open 09:00-11:00 from tomorrow."""
    today = datetime.now(OFFICE).date()
    return {
        "CALLGATE_OFFICE_HOURS": "Mon-Sun 09:00-11:00",
        "CALLGATE_SPECIAL_HOURS": f"{today.isoformat()} closed",
    }


@pytest.fixture(scope="module")
def closed_service(
    host_site: HostSite, ringostat: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """Closed all of today in Kyiv; 09:00-11:00 from tomorrow. GA4 on (to a loopback that
    refuses), so widget-config names the session cookie."""
    yield from _hours_service(
        "closed",
        {
            **_closed_today(),
            "CALLGATE_GA4_MEASUREMENT_ID": GA4_ID,
            "CALLGATE_GA4_API_SECRET": "ga4-test-secret",
            "CALLGATE_GA4_ENDPOINT": f"http://127.0.0.1:{host_site.port}",
        },
        host_site,
        ringostat,
        tmp_path_factory,
    )


@pytest.fixture(scope="module")
def open_service(
    host_site: HostSite, ringostat: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """Open now (all day but 23:59-24:00 in Kyiv), so it has a next opening."""
    yield from _hours_service(
        "open",
        {"CALLGATE_OFFICE_HOURS": "Mon-Sun 00:00-23:59"},
        host_site,
        ringostat,
        tmp_path_factory,
    )


@pytest.fixture(scope="module")
def one_seat_service(
    host_site: HostSite, ringostat: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """Closed all of today, as ``closed_service``, with one call per slot."""
    yield from _hours_service(
        "one-seat",
        {**_closed_today(), "CALLGATE_SLOT_CAPACITY": "1"},
        host_site,
        ringostat,
        tmp_path_factory,
    )


def book(service: Service, start: str, phone: str) -> None:
    """Another visitor takes the slot, as the widget would (a form token first)."""
    token = requests.get(f"{service.url}/api/v1/form-token", timeout=5).json()["form_token"]
    body = {"phone": phone, "call_at": start, "form_token": token}
    answer = requests.post(f"{service.url}/api/v1/callbacks", json=body, timeout=5)
    assert answer.status_code == 202, answer.text


def slots(service: Service) -> list[str]:
    """The open slots' starts, as the service writes them."""
    answer = requests.get(f"{service.url}/api/v1/slots", timeout=5).json()
    return [slot["start"] for slot in answer["slots"] if slot["remaining"] > 0]


def config(service: Service) -> dict[str, Any]:
    found: dict[str, Any] = requests.get(f"{service.url}/api/v1/widget-config", timeout=5).json()
    return found


def day_phrase(lang: str, moment: datetime, zone: ZoneInfo) -> str:
    """The dictionary's words for the day of ``moment`` in the visitor's ``zone`` (written here
    again, not taken from the widget); tests book within the coming week."""
    local = moment.astimezone(zone).date()
    ahead = (local - datetime.now(zone).date()).days
    assert 0 <= ahead <= 6, ahead
    days = texts(lang)["days"].split(",")
    return days[7] if ahead == 0 else days[(local.isoweekday()) % 7]


def clock(page: Page, locale: str, moment: datetime) -> str:
    """The time of day as the visitor's browser writes it (09:00, 9:00 AM)."""
    said: str = page.evaluate(
        "([l, t]) => new Date(t).toLocaleTimeString(l, {hour: '2-digit', minute: '2-digit'})",
        [locale, moment.isoformat()],
    )
    return said


def when_text(page: Page, lang: str, key: str, iso: str, zone: ZoneInfo = OFFICE) -> str:
    moment = datetime.fromisoformat(iso)
    words = texts(lang)[key]
    return words.replace("{day}", day_phrase(lang, moment, zone)).replace(
        "{time}", clock(page, LOCALES[lang], moment)
    )


def open_dialog(page: Page, lang: str = "en") -> Locator:
    words = texts(lang)
    page.get_by_role("button", name=words["launcher"]).click()
    dialog = page.get_by_role("dialog", name=words["title"])
    expect(dialog).to_be_visible()
    return dialog


def host_page(host_site: HostSite, service: Service, name: str, lang: str = "en") -> str:
    return host_site.add(f"/{name}.html", widget_page(service.url, {"lang": lang}))


def submit(page: Page, field: Locator, service: Service) -> dict[str, Any]:
    """Presses Enter in ``field``; the body the widget POSTs to the service."""
    with page.expect_request(
        lambda r: r.method == "POST" and r.url == f"{service.url}/api/v1/callbacks"
    ) as sent:
        field.press("Enter")
    body: dict[str, Any] = json.loads(sent.value.post_data or "{}")
    return body


def test_closed_office_says_when_it_opens_and_offers_times(
    new_page: Callable[..., Page], host_site: HostSite, closed_service: Service
) -> None:
    settings = config(closed_service)
    assert settings["open_now"] is False and settings["next_open"]
    starts = slots(closed_service)
    tomorrow: date = datetime.now(OFFICE).date() + timedelta(days=1)
    assert datetime.fromisoformat(starts[0]) == datetime(
        tomorrow.year, tomorrow.month, tomorrow.day, 9, tzinfo=OFFICE
    )
    page = new_page(
        host_page(host_site, closed_service, "closed"), locale="en-GB", timezone_id="Europe/Kyiv"
    )
    dialog = open_dialog(page)
    expect(
        dialog.get_by_text(when_text(page, "en", "closed", settings["next_open"]))
    ).to_be_visible()
    picker = dialog.get_by_label(texts("en")["picker_label"], exact=True)
    expect(picker).to_be_visible()
    options = picker.locator("option")
    assert options.evaluate_all("(all) => all.map((o) => o.value)") == starts
    # Tomorrow's first slot is chosen unless the visitor picks another; "Mon 09:00".
    expect(picker).to_have_value(starts[0])
    expect(options.first).to_contain_text("09:00")
    # The visitor's zone is the office's: no note about zones, no "Call me now" while closed.
    expect(dialog.get_by_text("Our office works in")).to_have_count(0)
    expect(dialog.get_by_role("radio")).to_have_count(0)
    assert_accessible(page, "closed office, picker")
    shoot(page, "picker-closed-en")


def test_keyboard_alone_books_a_slot_and_the_answer_says_when(
    new_page: Callable[..., Page], host_site: HostSite, closed_service: Service
) -> None:
    starts = slots(closed_service)
    chosen = starts[1]
    sent: list[dict[str, Any]] = []

    def answer(route: Route) -> None:
        # The real service takes the booking (202); until it schedules such leads itself, the
        # answer it would give (status scheduled, scheduled_for the slot) is filled in.
        sent.append(json.loads(route.request.post_data or "{}"))
        real = route.fetch()
        assert real.status == 202, real.text()
        body = real.json()
        body.update(status="scheduled", scheduled_for=body.get("scheduled_for") or chosen)
        route.fulfill(response=real, json=body)

    page = new_page(
        host_page(host_site, closed_service, "keyboard"),
        locale="en-GB",
        timezone_id="Europe/Kyiv",
        setup=lambda p: p.route(f"{closed_service.url}/api/v1/callbacks", answer),
    )
    launcher = page.get_by_role("button", name=texts("en")["launcher"])
    expect(launcher).to_be_visible()
    page.keyboard.press("Tab")  # the host page's link
    page.keyboard.press("Tab")  # the launcher
    expect(launcher).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=texts("en")["title"])
    expect(dialog).to_be_visible()
    picker = dialog.get_by_label(texts("en")["picker_label"], exact=True)
    expect(picker).to_be_visible()
    page.keyboard.type("067 111 22 33")  # the phone field has focus
    page.keyboard.press("Tab")  # name
    page.keyboard.press("Tab")  # the picker
    assert picker.evaluate("(s) => s.getRootNode().activeElement === s")
    page.keyboard.press("ArrowDown")  # the second slot
    expect(picker).to_have_value(chosen)
    page.keyboard.press("Tab")  # submit
    page.keyboard.press("Enter")
    status = dialog.get_by_role("status")
    expect(status).to_have_text(when_text(page, "en", "scheduled", chosen), timeout=10_000)
    # "We will call you on Monday at 09:15." and no countdown: nothing is being placed now.
    expect(dialog.get_by_role("timer")).to_be_hidden()
    assert len(sent) == 1 and sent[0]["call_at"] == chosen
    shoot(page, "picker-booked-en")


def test_a_slot_taken_meanwhile_is_gone_from_the_picker_and_another_is_booked(
    new_page: Callable[..., Page], host_site: HostSite, one_seat_service: Service
) -> None:
    words = texts("en")
    page = new_page(
        host_page(host_site, one_seat_service, "one-seat"),
        locale="en-GB",
        timezone_id="Europe/Kyiv",
    )
    dialog = open_dialog(page)
    picker = dialog.get_by_label(words["picker_label"], exact=True)
    starts = slots(one_seat_service)
    expect(picker).to_have_value(starts[0])
    book(one_seat_service, starts[0], "+380671119900")  # while this visitor types
    phone = dialog.get_by_label(words["phone"])
    phone.fill("067 111 22 33")
    phone.press("Enter")
    status = dialog.get_by_role("status")
    expect(status).to_have_text(words["validation_error"], timeout=10_000)
    # Drawn again from the slots still free, saying why, with the visitor back in it.
    picker = dialog.get_by_label(words["picker_label"], exact=True)
    expect(picker).to_have_value(starts[1])
    expect(dialog.locator("#callgate-err-call_at")).to_have_text(words["call_at_full"])
    expect(picker).to_have_attribute("aria-invalid", "true")
    options = picker.locator("option")
    assert options.evaluate_all("(all) => all.map((o) => o.value)") == starts[1:]
    expect(picker).to_be_focused()
    sent = submit(page, phone, one_seat_service)
    assert sent["call_at"] == starts[1]
    expect(status).to_have_text(when_text(page, "en", "scheduled", starts[1]), timeout=10_000)
    assert slots(one_seat_service) == starts[2:]


def test_open_office_offers_call_now_or_a_time_and_loads_the_picker_only_then(
    new_page: Callable[..., Page], host_site: HostSite, open_service: Service
) -> None:
    settings = config(open_service)
    assert settings["open_now"] is True and settings["next_open"]
    words = texts("en")
    modules: list[str] = []
    page = new_page(
        host_page(host_site, open_service, "open"),
        locale="en-GB",
        timezone_id="Europe/Kyiv",
        setup=lambda p: p.on(
            "request", lambda r: modules.append(r.url) if "/widget-" in r.url else None
        ),
    )
    dialog = open_dialog(page)
    group = dialog.get_by_role("group", name=words["when"])
    now_choice = group.get_by_role("radio", name=words["call_now_choice"])
    later_choice = group.get_by_role("radio", name=words["call_later_choice"])
    expect(now_choice).to_be_checked()
    expect(later_choice).not_to_be_checked()
    expect(dialog.get_by_label(words["picker_label"], exact=True)).to_have_count(0)
    assert not [url for url in modules if "/widget-picker.js" in url]
    assert_accessible(page, "open office, call now")

    # Keyboard: from the name field into the group, then the arrow picks "Choose a time".
    dialog.get_by_label(words["name"]).focus()
    page.keyboard.press("Tab")
    expect(now_choice).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(later_choice).to_be_checked()
    picker = dialog.get_by_label(words["picker_label"], exact=True)
    expect(picker).to_be_visible()
    assert [url for url in modules if "/widget-picker.js" in url]
    expect(picker).to_have_value(slots(open_service)[0])
    assert_accessible(page, "open office, picker")
    shoot(page, "picker-open-en")

    # Back to "Call me now": the picker goes, and the request carries no call_at.
    page.keyboard.press("ArrowUp")
    expect(now_choice).to_be_checked()
    expect(picker).to_be_hidden()
    phone = dialog.get_by_label(words["phone"])
    phone.fill("067 111 22 33")
    sent = submit(page, phone, open_service)
    assert sent["phone"] == "067 111 22 33" and "call_at" not in sent


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_has_its_words_for_hours_and_refusals(
    new_page: Callable[..., Page],
    host_site: HostSite,
    closed_service: Service,
    open_service: Service,
    lang: str,
) -> None:
    words = texts(lang)
    locale = LOCALES[lang]
    # Open: the two choices in the visitor's language.
    page = new_page(
        host_page(host_site, open_service, f"open-{lang}", lang),
        locale=locale,
        timezone_id="Europe/Kyiv",
    )
    dialog = open_dialog(page, lang)
    group = dialog.get_by_role("group", name=words["when"])
    expect(group.get_by_role("radio", name=words["call_now_choice"])).to_be_checked()
    group.get_by_role("radio", name=words["call_later_choice"]).check()
    expect(dialog.get_by_label(words["picker_label"], exact=True)).to_be_visible()

    # Closed: the opening, the picker, and each call_at refusal in its own words.
    codes = iter(CALL_AT_CODES)

    def refuse(route: Route) -> None:
        code = next(codes)
        route.fulfill(
            status=422,
            content_type="application/problem+json",
            body=json.dumps(
                {
                    "type": "about:blank",
                    "title": "Unprocessable Content",
                    "status": 422,
                    "code": "validation_error",
                    "error_codes": {"call_at": code},
                }
            ),
        )

    page = new_page(
        host_page(host_site, closed_service, f"closed-{lang}", lang),
        locale=locale,
        timezone_id="Europe/Kyiv",
        setup=lambda p: p.route(f"{closed_service.url}/api/v1/callbacks", refuse),
    )
    dialog = open_dialog(page, lang)
    settings = config(closed_service)
    expect(
        dialog.get_by_text(when_text(page, lang, "closed", settings["next_open"]))
    ).to_be_visible()
    picker = dialog.get_by_label(words["picker_label"], exact=True)
    expect(picker).to_be_visible()
    phone = dialog.get_by_label(words["phone"])
    phone.fill("067 111 22 33")
    for code in CALL_AT_CODES:
        phone.press("Enter")
        expect(dialog.locator("#callgate-err-call_at")).to_have_text(words[code])
        expect(picker).to_have_attribute("aria-invalid", "true")
        expect(dialog.get_by_role("status")).to_have_text(words["validation_error"])
    shoot(page, f"picker-refused-{lang}")


def test_a_visitor_elsewhere_sees_local_times_and_the_office_zone_named(
    new_page: Callable[..., Page], host_site: HostSite, closed_service: Service
) -> None:
    visitor = ZoneInfo("America/New_York")
    starts = slots(closed_service)
    settings = config(closed_service)
    page = new_page(
        host_page(host_site, closed_service, "elsewhere"),
        locale="en-GB",
        timezone_id="America/New_York",
    )
    dialog = open_dialog(page)
    # The opening in New York time: 09:00 in Kyiv is 02:00 (or 01:00, or 03:00 around DST).
    opening = datetime.fromisoformat(settings["next_open"]).astimezone(visitor)
    closed_line = dialog.get_by_text(
        when_text(page, "en", "closed", settings["next_open"], visitor)
    )
    expect(closed_line).to_contain_text(f"{opening:%H:%M}")
    picker = dialog.get_by_label(texts("en")["picker_label"], exact=True)
    first = datetime.fromisoformat(starts[0]).astimezone(visitor)
    expect(picker.locator("option").first).to_contain_text(f"{first:%H:%M}")
    names: list[str] = page.evaluate(
        """(t) => [undefined, 'Europe/Kyiv'].map((z) => new Intl.DateTimeFormat('en-GB',
            {timeZone: z, timeZoneName: 'long'}).formatToParts(new Date(t))
            .find((p) => p.type == 'timeZoneName').value)""",
        starts[0],
    )
    assert "Eastern European" in names[1] and "European" not in names[0], names
    note = dialog.get_by_text(
        texts("en")["picker_zone"].replace("{zone}", names[0]).replace("{office}", names[1])
    )
    expect(note).to_be_visible()
    # The note describes the picker for screen readers.
    expect(picker).to_have_accessible_description(note.inner_text())
    assert_accessible(page, "picker in another zone")
    shoot(page, "picker-new-york")


def test_the_ga4_session_cookie_is_copied_as_ga_session(
    new_page: Callable[..., Page], host_site: HostSite, closed_service: Service
) -> None:
    assert config(closed_service)["ga4_cookie"] == GA4_COOKIE
    url = host_page(host_site, closed_service, "ga4")

    def cookie(page: Page) -> None:
        page.context.add_cookies(
            [{"name": GA4_COOKIE, "value": GA4_SESSION, "url": host_site.origin}]
        )

    page = new_page(url, setup=cookie, timezone_id="Europe/Kyiv")
    dialog = open_dialog(page)
    expect(dialog.get_by_label(texts("en")["picker_label"], exact=True)).to_be_visible()
    phone = dialog.get_by_label(texts("en")["phone"])
    phone.fill("067 111 22 33")
    sent = submit(page, phone, closed_service)
    assert sent["ga_session"] == GA4_SESSION and sent["ga"]


@pytest.mark.parametrize("lang", LANGS)
def test_a_cancelled_request_has_its_own_words(
    new_page: Callable[..., Page], host_site: HostSite, service: Service, lang: str
) -> None:
    words = texts(lang)

    def accept(route: Route) -> None:
        route.fulfill(status=202, json={"id": "cancelled1", "status": "queued"})

    def cancelled(route: Route) -> None:
        route.fulfill(json={"id": "cancelled1", "status": "cancelled"})

    def routes(page: Page) -> None:
        page.route(f"{service.url}/api/v1/callbacks", accept)
        page.route(f"{service.url}/api/v1/callbacks/cancelled1", cancelled)

    page = new_page(
        host_page(host_site, service, f"cancelled-{lang}", lang),
        locale=LOCALES[lang],
        setup=routes,
    )
    dialog = open_dialog(page, lang)
    # An office without hours: no choice of time, no picker.
    expect(dialog.get_by_role("radio")).to_have_count(0)
    phone = dialog.get_by_label(words["phone"])
    phone.fill("067 111 22 33")
    phone.press("Enter")
    expect(dialog.get_by_role("status")).to_have_text(words["cancelled"], timeout=10_000)
    expect(dialog.get_by_role("timer")).to_be_hidden()


def test_a_sites_own_form_sends_its_call_at_select(
    new_page: Callable[..., Page], host_site: HostSite, closed_service: Service
) -> None:
    """The no-JS form's server-rendered select, enhanced by the widget (data-form)."""
    starts = slots(closed_service)[:3]
    options = '<option value="">As soon as you open</option>' + "".join(
        f'<option value="{start}">{start}</option>' for start in starts
    )
    form = (
        f'<form id="own" method="post" action="{closed_service.url}/api/v1/callbacks">'
        '<label for="ph">Phone</label><input id="ph" name="phone" type="tel">'
        f'<label for="at">When</label><select id="at" name="call_at">{options}</select>'
        "<button>Call me</button></form>"
    )
    url = host_site.add(
        "/own-select.html", widget_page(closed_service.url, {"lang": "en", "form": "#own"}, form)
    )
    for chosen in ("", starts[2]):
        page = new_page(url, timezone_id="Europe/Kyiv")
        expect(page.locator(".callgate-status")).to_have_count(1)
        page.get_by_label("When").select_option(chosen)
        phone = page.get_by_label("Phone")
        phone.fill("067 111 22 33")
        sent = submit(page, phone, closed_service)
        # "As soon as you open" is no time.
        assert sent.get("call_at") == (chosen or None)
