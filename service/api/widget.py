"""``/widget.js``, its lazily imported modules (``/widget-dialog.js``, ``/widget-captcha.js``,
``/widget-picker.js``) and ``/api/v1/widget-config``: the drop-in widget, what it imports when
needed, and the settings it reads.

The readable source lives in ``widget/src/``; ``make widget`` (``scripts/build_widget.py``)
minifies it with esbuild into ``service/static/``, package data read through
``importlib.resources``, so an installed wheel serves the same bytes as the source tree. A test
rebuilds and compares. What ``/widget.js`` serves is what the size budget measures: 5 KB
gzipped. Lazily imported modules (``/widget-<name>.js``, the CAPTCHA's first) cost nothing,
neither bytes nor a request, on pages that never need them.

Texts live in one dictionary per language (``widget/i18n/<lang>.json``, copied compact into
``service/static/i18n/`` by the build) and reach the browser through ``/api/v1/widget-config``
in the one language chosen, so the script does not carry all of them. Nothing secret goes into
that answer: every visitor can read it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..agents import agents_available
from ..attribution import ga_session_cookie
from ..services import Services, services
from ..tokens import issue
from .slots import now, office_state

bp = Blueprint("widget", __name__)

# The built widget, package data (the ``service`` package's ``static/``).
STATIC: Traversable = files("service") / "static"
LANGUAGES = ("en", "uk", "ru", "pl")
DEFAULT_LANGUAGE = "en"
# What people write instead: "ua" is Ukraine's country code, not the language's.
ALIASES = {"ua": "uk"}
# How much of ?lang= is read (a longer list is cut, not refused: the widget must still load).
LANG_READ = 200
SIZE_BUDGET = 5 * 1024

# The URL carries no version, so a fix must reach sites soon: browsers revalidate after ten
# minutes (cheap, thanks to the ETag) and may use a stale copy meanwhile rather than wait.
SCRIPT_CACHE = "public, max-age=600, stale-while-revalidate=86400"
# The settings are the same for every visitor (only the language differs, and it is in the
# URL): browsers and shared caches may keep them a minute. The form token, which is per visit,
# comes from its own small request, never cached.
CONFIG_CACHE = "public, max-age=60, stale-while-revalidate=600"
NO_STORE = "no-store"
# The widget's lazily imported modules (``static/widget-<name>.js``): the dialog on first use,
# the CAPTCHA where one is configured, the time picker when the visitor books a time.
MODULES = ("dialog", "captcha", "picker")


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str


@cache
def _asset(name: str) -> Asset:
    body = (STATIC / name).read_bytes()
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag=hashlib.sha256(body).hexdigest()[:20],
    )


def script() -> Asset:
    """The served widget, read once per process."""
    return _asset("widget.js")


def module_script(name: str) -> Asset:
    """One of the widget's lazily imported ES modules (``static/widget-<name>.js``)."""
    return _asset(f"widget-{name}.js")


def captcha_script() -> Asset:
    """The widget's CAPTCHA module (an ES module: widget.js loads it with ``import()``)."""
    return module_script("captcha")


def module_path(name: str) -> str:
    """A module's path with its version (its ETag), which widget.js imports.

    ``widget-config`` names the versions, so a page gets the modules that match the service it
    is talking to, even while a cached copy of an older one is still fresh. The route ignores
    the query: any ``v`` gets the current module, with the same headers.
    """
    return f"/widget-{name}.js?v={module_script(name).etag}"


def captcha_module_path() -> str:
    """The CAPTCHA module's versioned path."""
    return module_path("captcha")


@cache
def dictionaries() -> dict[str, dict[str, str]]:
    """Every language's texts, keyed by language code."""
    return {
        lang: json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in LANGUAGES
    }


def choose_language(wanted: str) -> str:
    """The first supported language in a comma-separated preference list, else English.

    The widget sends its ``data-lang`` first, then ``navigator.languages``.
    """
    for item in wanted.split(",")[:20]:
        code = item.strip().lower()[:2]
        code = ALIASES.get(code, code)
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def public_config(svc: Services, lang: str) -> dict[str, Any]:
    """What the widget may know; every visitor can read it. Add public fields here.

    ``agents_available`` reads the cached SIP-status snapshot, never Ringostat itself.

    Nothing in it changes per request (it is cached): the signed form token the service asks
    every post for comes from ``/api/v1/form-token``; the widget waits until it is
    ``form_token_min_age`` seconds old before sending.
    """
    settings = svc.settings
    modules = {name: module_path(name) for name in MODULES}
    if settings.captcha == "none":
        del modules["captcha"]
    return {
        "lang": lang,
        "languages": list(LANGUAGES),
        "texts": dictionaries()[lang],
        "default_region": settings.default_region,
        "countries": list(settings.allowed_countries),
        "require_consent": settings.require_consent,
        "form_token_min_age": settings.form_token_min_age,
        "agents_available": agents_available(svc.agents, settings.agents.logins),
        # Public by design: a CAPTCHA's site key is what a page shows; the secret stays here.
        "captcha": settings.captcha,
        "captcha_site_key": settings.captcha_site_key,
        # The vendor's explicit-render script the widget loads into its dialog ("" for none).
        "captcha_script_url": settings.captcha_script_url,
        # Our module that renders it, versioned, relative to the service ("" for none).
        "captcha_module": captcha_module_path() if settings.captcha != "none" else "",
        # The name of GA4's session cookie (_ga_<stream>), which the widget copies as
        # ga_session the way it copies _ga as ga; "" without a GA4 measurement id.
        "ga4_cookie": ga_session_cookie(settings.events.ga4_measurement_id) or "",
        # open_now, next_open, timezone: the dialog says when the office opens.
        **office_state(svc.hours, now()),
        # Versioned paths of the modules widget.js may import, by name.
        "modules": modules,
    }


def serve(asset: Asset, mimetype: str = "text/javascript", cache: str = SCRIPT_CACHE) -> Response:
    """A script (or JSON), gzipped when the browser accepts it, revalidated by ETag."""
    if request.if_none_match.contains_weak(asset.etag):
        response = Response(status=304)
    else:
        zipped = request.accept_encodings["gzip"] > 0
        response = Response(asset.gzipped if zipped else asset.body, mimetype=mimetype)
        if zipped:
            response.headers["Content-Encoding"] = "gzip"
    # Weak: the gzipped and plain bodies differ in bytes but not in meaning.
    response.set_etag(asset.etag, weak=True)
    response.headers["Cache-Control"] = cache
    response.vary.add("Accept-Encoding")
    # CORS answers differ by Origin (allowed or not): a shared cache must keep them apart.
    response.vary.add("Origin")
    # Sites that isolate themselves (COEP) may still load it.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@bp.get("/widget.js")
def widget_js() -> Response:
    """The widget."""
    return serve(script())


def _module_view(name: str) -> Callable[[], Response]:
    def view() -> Response:
        return serve(module_script(name))

    view.__doc__ = f"The widget's {name} module (``/widget-{name}.js``)."
    return view


# One route per module, each with its own name (``widget.module_dialog``...). A module is
# fetched with CORS, which ``origins`` allows for it. Always served, whatever the settings say
# (the CAPTCHA's even without a CAPTCHA); ``?v=`` (see :func:`module_path`) only makes the URL
# change with the module.
for _name in MODULES:
    bp.add_url_rule(f"/widget-{_name}.js", f"module_{_name}", _module_view(_name), methods=["GET"])


def _json_asset(value: Any) -> Asset:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        etag=hashlib.sha256(body).hexdigest()[:20],
    )


@bp.get("/api/v1/widget-config")
def widget_config() -> Response:
    """Public settings in the visitor's language (``?lang=uk,ru,en``), compressed and cacheable."""
    lang = choose_language(request.args.get("lang", "")[:LANG_READ])
    return serve(_json_asset(public_config(services(), lang)), "application/json", CONFIG_CACHE)


@bp.get("/api/v1/form-token")
def form_token() -> Response:
    """A fresh signed form token for one visit (``CALLGATE_FORM_TOKEN``); never cached."""
    response = jsonify({"form_token": issue(services().settings.secret_key)})
    response.headers["Cache-Control"] = NO_STORE
    return response
