"""``/widget.js``, ``/widget-captcha.js`` and ``/api/v1/widget-config``: the drop-in widget, the
module it imports when a CAPTCHA is configured, and the settings it reads.

The scripts live in ``widget/callgate.js`` and ``widget/callgate-captcha.js`` and are served as
written, minus indentation and whole-line ``//`` comments (dropped in memory at first use, so
there is no build step and the source keeps its comments). What ``/widget.js`` serves is what
the size budget measures: 5 KB gzipped. The CAPTCHA code lives apart so that it costs nothing
(neither bytes nor a request) on sites without one.

Texts live in one dictionary per language (``widget/i18n/<lang>.json``) and reach the browser
through ``/api/v1/widget-config`` in the one language chosen, so the script does not carry all
of them. Nothing secret goes into that answer: every visitor can read it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..agents import agents_available
from ..services import Services, services
from ..tokens import issue
from .slots import now, office_state

bp = Blueprint("widget", __name__)

WIDGET_DIR = Path(__file__).resolve().parents[2] / "widget"
LANGUAGES = ("en", "uk", "ru", "pl")
DEFAULT_LANGUAGE = "en"
# What people write instead: "ua" is Ukraine's country code, not the language's.
ALIASES = {"ua": "uk"}
SIZE_BUDGET = 5 * 1024

# The URL carries no version, so a fix must reach sites soon: browsers revalidate after ten
# minutes (cheap, thanks to the ETag) and may use a stale copy meanwhile rather than wait.
SCRIPT_CACHE = "public, max-age=600, stale-while-revalidate=86400"
# The answer carries a signed form token whose age the service checks: never from a cache.
CONFIG_CACHE = "no-store"


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str


def compact(source: str) -> str:
    """Drop indentation, blank lines and whole-line ``//`` comments; nothing else is touched.

    Lines stay lines, so automatic semicolon insertion reads the code exactly as written.
    """
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//")) + "\n"


@cache
def _asset(name: str) -> Asset:
    body = compact((WIDGET_DIR / name).read_text(encoding="utf-8")).encode()
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag=hashlib.sha256(body).hexdigest()[:20],
    )


def script() -> Asset:
    """The served widget, read once per process."""
    return _asset("callgate.js")


def captcha_script() -> Asset:
    """The widget's CAPTCHA module (an ES module: widget.js loads it with ``import()``)."""
    return _asset("callgate-captcha.js")


def captcha_module_path() -> str:
    """The module's path with its version (its ETag), which widget.js imports.

    ``widget-config`` is never cached, so a page gets the module that matches the service it
    is talking to, even while a cached copy of an older one is still fresh. The route ignores
    the query: any ``v`` gets the current module, with the same headers.
    """
    return f"/widget-captcha.js?v={captcha_script().etag}"


@cache
def dictionaries() -> dict[str, dict[str, str]]:
    """Every language's texts, keyed by language code."""
    return {
        lang: json.loads((WIDGET_DIR / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
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

    ``form_token`` is the signed token the service asks every post for (``CALLGATE_FORM_TOKEN``);
    the widget waits until it is ``form_token_min_age`` seconds old before sending.
    """
    settings = svc.settings
    return {
        "lang": lang,
        "languages": list(LANGUAGES),
        "texts": dictionaries()[lang],
        "default_region": settings.default_region,
        "countries": list(settings.allowed_countries),
        "require_consent": settings.require_consent,
        "form_token": issue(settings.secret_key),
        "form_token_min_age": settings.form_token_min_age,
        "agents_available": agents_available(svc.agents, settings.agents.logins),
        # Public by design: a CAPTCHA's site key is what a page shows; the secret stays here.
        "captcha": settings.captcha,
        "captcha_site_key": settings.captcha_site_key,
        # The vendor's explicit-render script the widget loads into its dialog ("" for none).
        "captcha_script_url": settings.captcha_script_url,
        # Our module that renders it, versioned, relative to the service ("" for none).
        "captcha_module": captcha_module_path() if settings.captcha != "none" else "",
        # open_now, next_open, timezone: the dialog says when the office opens.
        **office_state(svc.hours, now()),
    }


def serve(asset: Asset) -> Response:
    """A script, gzipped when the browser accepts it, revalidated by ETag."""
    if request.if_none_match.contains_weak(asset.etag):
        response = Response(status=304)
    else:
        zipped = request.accept_encodings["gzip"] > 0
        response = Response(asset.gzipped if zipped else asset.body, mimetype="text/javascript")
        if zipped:
            response.headers["Content-Encoding"] = "gzip"
    # Weak: the gzipped and plain bodies differ in bytes but not in meaning.
    response.set_etag(asset.etag, weak=True)
    response.headers["Cache-Control"] = SCRIPT_CACHE
    response.vary.add("Accept-Encoding")
    # Sites that isolate themselves (COEP) may still load it.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@bp.get("/widget.js")
def widget_js() -> Response:
    """The widget."""
    return serve(script())


@bp.get("/widget-captcha.js")
def widget_captcha_js() -> Response:
    """The CAPTCHA module; a module is fetched with CORS, which ``origins`` allows for it.

    Always served, whatever ``CALLGATE_CAPTCHA`` says (the widget imports it only with a
    CAPTCHA). ``?v=`` (see :func:`captcha_module_path`) only makes the URL change with it.
    """
    return serve(captcha_script())


@bp.get("/api/v1/widget-config")
def widget_config() -> Response:
    """Public settings in the visitor's language (``?lang=uk,ru,en``)."""
    lang = choose_language(request.args.get("lang", "")[:200])
    response = jsonify(public_config(services(), lang))
    response.headers["Cache-Control"] = CONFIG_CACHE
    return response
