"""Isolation: a page with a strict Content-Security-Policy, a hostile stylesheet, and a page
whose own elements must look the same with and without the widget."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.conftest import UTM_PARAMS, HostSite, shoot, texts, wait_calls, widget_page
from tests.fakes.provider import FakeProvider
from tests.servers import Service

EN = texts("en")
RECORD_VIOLATIONS = """window.__violations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI), true);"""


def test_strict_csp_page_works_without_unsafe_inline(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    csp = (
        f"default-src 'none'; script-src {service.url}; connect-src {service.url}; "
        f"style-src 'self'; img-src 'self'; form-action {service.url}; base-uri 'none'; "
        "frame-ancestors 'none'; require-trusted-types-for 'script'"
    )
    # Inline script and style that the policy must block: proof that it is in force.
    canary = (
        "<style>body{background:rgb(255, 0, 0)}</style><script>window.inlineRan = true</script>"
    )
    url = host_site.add(
        "/csp.html",
        widget_page(service.url, {"lang": "en"}, body=canary),
        {"Content-Security-Policy": csp},
    )
    page = new_page(url, init=RECORD_VIOLATIONS)
    launcher = page.get_by_role("button", name=EN["launcher"])
    expect(launcher).to_be_visible()
    assert page.evaluate("window.inlineRan") is None
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(255, 0, 0)"
    blocked = page.evaluate("window.__violations")
    assert {v.split()[0] for v in blocked} <= {"script-src-elem", "style-src-elem"}
    assert all(v.split()[1] == "inline" for v in blocked), blocked
    # Our styles applied although inline styles are forbidden.
    assert launcher.evaluate("(b) => getComputedStyle(b).position") == "fixed"
    assert launcher.evaluate("(b) => getComputedStyle(b).backgroundColor") == "rgb(11, 87, 208)"

    launcher.click()
    dialog = page.get_by_role("dialog", name=EN["title"])
    dialog.get_by_label(EN["phone"]).fill("+380 67 111 22 33")
    dialog.get_by_role("button", name=EN["submit"]).click()
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    shoot(page, "csp-strict-placed")
    [received] = wait_calls(ringostat, 1)
    params = received.json()["params"]
    assert {k: params[k] for k in UTM_PARAMS} == UTM_PARAMS
    # Nothing of ours was blocked: only the two canaries.
    assert page.evaluate("window.__violations") == blocked
    assert len(blocked) == 2


HOSTILE_CSS = """
* { all: unset !important; font-size: 6px !important; color: rgb(255, 0, 0) !important;
    background: rgb(255, 255, 0) !important; letter-spacing: 1em !important; }
html, body { font: 40px/3 serif !important; text-transform: uppercase !important; }
button, input, dialog, div, p, form, label, h2, span, a { display: none !important;
    visibility: hidden !important; opacity: 0 !important; }
callgate-widget, body > *:last-child { display: none !important; position: absolute !important;
    left: -9999px !important; filter: blur(5px) !important; transform: scale(0) !important; }
:root { --callgate-focus: rgb(255, 0, 255); }
"""


def test_hostile_host_stylesheet_cannot_break_it(
    new_page: Callable[..., Page],
    host_site: HostSite,
    service: Service,
    ringostat: FakeProvider,
) -> None:
    host_site.add("/hostile.css", HOSTILE_CSS)
    url = host_site.add(
        "/hostile.html",
        widget_page(
            service.url, {"lang": "en"}, head='<link rel="stylesheet" href="/hostile.css">'
        ),
    )
    page = new_page(url)
    launcher = page.get_by_role("button", name=EN["launcher"])
    expect(launcher).to_be_visible()
    box = launcher.bounding_box()
    assert box and box["height"] >= 44 and box["x"] + box["width"] <= 1024 and box["y"] > 600
    style = launcher.evaluate("""(b) => { const s = getComputedStyle(b);
        return [s.fontSize, s.letterSpacing, s.textTransform, s.color, s.opacity]; }""")
    assert style == ["16px", "normal", "none", "rgb(255, 255, 255)", "1"]
    shoot(page, "hostile-css-launcher")

    launcher.click()
    dialog = page.get_by_role("dialog", name=EN["title"])
    expect(dialog).to_be_visible()
    box = dialog.bounding_box()
    assert box and 300 <= box["width"] <= 400
    title = dialog.get_by_role("heading", name=EN["title"])
    assert title.evaluate("(h) => getComputedStyle(h).fontSize") == "20px"
    phone = dialog.get_by_label(EN["phone"])
    expect(phone).to_be_visible()
    assert phone.evaluate("(i) => getComputedStyle(i).fontSize") == "16px"
    phone.fill("0671112233")
    dialog.get_by_role("button", name=EN["submit"]).click()
    expect(dialog.get_by_role("status")).to_have_text(EN["placed"], timeout=10_000)
    shoot(page, "hostile-css-placed")
    wait_calls(ringostat, 1)


HOST_ELEMENTS = """<h2 id="h">Host heading</h2><p id="p">Host text</p>
<form><label id="l" for="x">Host label</label><input id="x">
<button id="b" type="button">Host button</button></form>
<dialog id="d" open>Host dialog</dialog><a id="a" href="#">Host link</a>"""
COMPUTED = """() => Object.fromEntries(['h', 'p', 'l', 'x', 'b', 'd', 'a'].map((id) => {
  const s = getComputedStyle(document.getElementById(id));
  return [id, [s.font, s.color, s.backgroundColor, s.border, s.padding, s.margin, s.display,
               s.boxSizing, s.borderRadius, s.outline, s.width]];
}))"""


def test_our_styles_do_not_leak_into_the_host_page(
    new_page: Callable[..., Page], host_site: HostSite, service: Service
) -> None:
    plain = host_site.add("/leak-without.html", f"<!doctype html><body>{HOST_ELEMENTS}</body>")
    with_widget = host_site.add(
        "/leak-with.html", widget_page(service.url, {"lang": "en"}, body=HOST_ELEMENTS)
    )
    expected = new_page(plain).evaluate(COMPUTED)
    page = new_page(with_widget)
    page.get_by_role("button", name=EN["launcher"]).click()
    expect(page.get_by_role("dialog", name=EN["title"])).to_be_visible()
    assert page.evaluate(COMPUTED) == expected
