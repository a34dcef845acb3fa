"""The floating launcher and its dialog, used with the keyboard only, on another origin."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    UTM_PARAMS,
    HostSite,
    focused,
    shoot,
    texts,
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
    new_page: Callable[..., Page], host_site: HostSite, service: Service,
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
    [received] = ringostat.wait_for(1)
    params = received.json()["params"]
    assert params["caller"] == "380671112233"
    assert {k: params[k] for k in UTM_PARAMS} == UTM_PARAMS
    # The form is done and focus stayed in the dialog, on its close button.
    assert focused(page)["inDialog"] and focused(page)["text"] == "×"
    assert not [m for m in page.console_messages if "callgate" in m or "pageerror" in m]  # type: ignore[attr-defined]
