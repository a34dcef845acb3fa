"""Browser tests: Debian's Chromium driven by Playwright, the real service under gunicorn with a
loopback Ringostat, and the host page on another origin (``http://localhost:<port>``, while the
service is ``http://127.0.0.1:<port>``), as on a customer's site.

One browser, one service and one host site serve the whole session; each test gets a fresh
browser context (cookies, storage) and registers its own host pages.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.fakes.provider import FakeProvider, Received
from tests.integration.conftest import RINGOSTAT_ENV
from tests.samples import GA, RNGST2
from tests.servers import ROOT, Service, wait_until

CHROMIUM = "/usr/bin/chromium"
# Root in a container, and no reaching out to Google's services from a test run.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "tests" / "artifacts"
I18N = ROOT / "widget" / "i18n"

UTM_PARAMS = {
    "utmSource": "google",
    "utmMedium": "cpc",
    "utmCampaign": "spring",
    "utmTerm": "call me",
    "utmContent": "ad1",
    "clientId": "1234567890.1700000000",
}


def texts(lang: str) -> dict[str, str]:
    found: dict[str, str] = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    return found


@dataclass
class HostSite:
    """A customer's web site: pages registered by tests, served from another origin."""

    port: int = 0  # chosen by the OS when the server binds: no race with other processes
    pages: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    posts: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"

    def add(self, path: str, body: str, headers: dict[str, str] | None = None) -> str:
        self.pages[path] = (body, headers or {})
        return self.origin + path

    def start(self) -> HostSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body, headers = site.pages.get(urlsplit(self.path).path, ("not here", {}))
                found = urlsplit(self.path).path in site.pages
                payload = body.encode()
                self.send_response(200 if found else 404)
                content_type = "text/css" if self.path.endswith(".css") else "text/html"
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self.server.server_address[1])
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def widget_page(
    service: str,
    attrs: dict[str, str] | None = None,
    body: str = "",
    head: str = "",
    title: str = "Host site",
) -> str:
    """A host page with the embed snippet from the README and the given ``data-*`` attributes."""
    data = "".join(f' data-{k}="{html.escape(v)}"' for k, v in (attrs or {}).items())
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>{head}</head><body>"
        f'<a href="#top" id="host-link">A link on the host page</a>{body}'
        f'<script src="{service}/widget.js" async{data}></script></body></html>'
    )


@pytest.fixture(scope="session")
def host_site() -> Iterator[HostSite]:
    site = HostSite().start()
    yield site
    site.stop()


@pytest.fixture(scope="session")
def ringostat() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    yield fake
    fake.stop()


def service_env(host_site: HostSite, ringostat: FakeProvider, db: Path) -> dict[str, str]:
    return {
        **RINGOSTAT_ENV,
        "CALLGATE_RINGOSTAT_API_URL": ringostat.url,
        "CALLGATE_ALLOWED_ORIGINS": host_site.origin,
        "CALLGATE_DATABASE_URL": f"sqlite:///{db}",
        # Tests reuse numbers; each submission must reach the provider.
        "CALLGATE_DEDUPE_WINDOW": "0s",
        "CALLGATE_LIMIT_PER_IP": "1000/minute",
        "CALLGATE_LIMIT_PER_PHONE": "1000/minute",
        "CALLGATE_LIMIT_PER_COUNTRY": "1000/minute",
        "CALLGATE_MAX_NUMBERS_PER_IP": "1000",
        "CALLGATE_DAILY_CALL_BUDGET": "0",
        # The widget always sends the signed token; waiting for its minimum age is tested
        # on its own (test_defences.py), the other tests need not wait.
        "CALLGATE_FORM_TOKEN": "required",
        "CALLGATE_FORM_TOKEN_MIN_AGE": "0s",
        # A failed attempt is retried well in the future, so "scheduled" stays visible.
        "CALLGATE_RETRY_BASE": "10m",
        "CALLGATE_RETRY_CAP": "20m",
        "CALLGATE_WORKERS": "1",
    }


@pytest.fixture(scope="session")
def service(
    host_site: HostSite, ringostat: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("e2e-service")
    started = Service(
        env=service_env(host_site, ringostat, tmp / "callgate.db"), log_path=tmp / "service.log"
    ).start()
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def _fresh_provider(ringostat: FakeProvider) -> None:
    """Every test starts with a provider that accepts calls and has received nothing."""
    ringostat.set()
    with ringostat._lock:
        ringostat.received.clear()


def calls(fake: FakeProvider) -> list[Received]:
    """The callbacks Ringostat was asked to place (it is also asked for SIP status)."""
    with fake._lock:
        return [r for r in fake.received if r.method == "POST" and r.path == "/a/v2"]


def wait_calls(fake: FakeProvider, count: int, timeout: float = 10.0) -> list[Received]:
    """Exactly ``count`` callbacks, once they have arrived."""
    wait_until(lambda: len(calls(fake)) >= count, timeout, f"{count} callback(s)")
    found = calls(fake)
    assert len(found) == count, found
    return found


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def new_page(browser: Browser, host_site: HostSite) -> Iterator[Callable[..., Page]]:
    """``new_page(url, locale=, viewport=, cookies=True, init=script, setup=, wait_until=,
    **context options)``: ``setup(page)`` runs before the page navigates (to record its
    requests, route them or install a clock); ``wait_until`` is the navigation's."""
    contexts: list[BrowserContext] = []

    def make(
        url: str,
        *,
        locale: str = "en-US",
        cookies: bool = True,
        viewport: dict[str, int] | None = None,
        init: str | None = None,
        setup: Callable[[Page], object] | None = None,
        wait_until: Literal["commit", "domcontentloaded", "load", "networkidle"] = "load",
        **options: Any,
    ) -> Page:
        context = browser.new_context(
            locale=locale, viewport=viewport or {"width": 1024, "height": 768}, **options
        )
        contexts.append(context)
        if cookies:
            context.add_cookies(
                [
                    {"name": "rngst2", "value": RNGST2, "url": host_site.origin},
                    {"name": "_ga", "value": GA, "url": host_site.origin},
                ]
            )
        page = context.new_page()
        if init:
            page.add_init_script(init)
        messages = _console.setdefault(id(page), [])
        page.on("console", lambda m: messages.append(m.text))
        page.on("pageerror", lambda e: messages.append("pageerror: " + str(e)))
        if setup:
            setup(page)
        page.goto(url, wait_until=wait_until)
        return page

    yield make
    # Whatever a test did, the widget never threw into the host page.
    errors = [m for c in contexts for p in c.pages for m in console(p) if m.startswith("pageerror")]
    for context in contexts:
        context.close()
    assert not errors, errors


_console: dict[int, list[str]] = {}


def console(page: Page) -> list[str]:
    """Everything the page logged, and ``pageerror: ...`` for every uncaught exception."""
    return _console.setdefault(id(page), [])


def shoot(page: Page, name: str) -> None:
    """A screenshot for people to review (tests/artifacts/ is git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(ARTIFACTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"),
        animations="disabled",
    )


DEEP_FOCUS = """() => {
  let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  if (!a) return null;
  return {tag: a.tagName.toLowerCase(), id: a.id, name: a.getAttribute('name'),
          cls: a.className, text: (a.textContent || '').trim(),
          inDialog: !!(a.closest && a.closest('dialog')),
          inShadow: a.getRootNode() !== document};
}"""


def focused(page: Page) -> dict[str, Any]:
    """What has keyboard focus, looking inside shadow roots."""
    found: dict[str, Any] = page.evaluate(DEEP_FOCUS)
    return found
