"""Marketing attribution of a request: UTM fields, Google Analytics client ID, IP, user agent.

The sources are Ringostat's ``rngst2`` cookie and Google Analytics' ``_ga`` cookie when the
service shares the site's domain, or the copies the widget read in the browser when it does not.
A cookie wins over a copy. Nothing here ever raises on bad input: a value we cannot read is a
value we do not have.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import unquote

MAX_USER_AGENT = 512
MAX_UTM_VALUE = 256
MAX_COOKIE = 4096

# rngst2's snake_case keys -> the params of Ringostat's extended callback.
UTM_KEYS = {
    "utm_source": "utmSource",
    "utm_medium": "utmMedium",
    "utm_campaign": "utmCampaign",
    "utm_term": "utmTerm",
    "utm_content": "utmContent",
}

# GA1.<domain depth, e.g. 2 or 1-2>.<random>.<timestamp>; GA4 writes GA1.1.<random>.<timestamp>.
# ASCII digits only: \d alone also matches Arabic-Indic and other digits, which no GA cookie has.
_GA = re.compile(r"^GA\d+\.\d+(?:-\d+)?\.(\d{1,20})\.(\d{1,20})$", re.ASCII)
# The GA4 session cookie _ga_<stream>: GS1.1.<session id>.<n>.… or GS2.1.s<session id>$o<n>$….
_GA_SESSION_1 = re.compile(r"^GS1\.\d+(?:-\d+)?\.(\d{1,20})\.", re.ASCII)
_GA_SESSION_2 = re.compile(r"^GS2\.\d+(?:-\d+)?\.s(\d{1,20})(?:\$|$)", re.ASCII)


@dataclass(frozen=True)
class Attribution:
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    client_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    # GA4's session id (the _ga_<stream> cookie): ties a server-side event to the visit.
    ga_session_id: str | None = None


def parse_rngst2(raw: str | None) -> dict[str, str]:
    """UTM values from an ``rngst2`` value, keyed as in the cookie (``utm_source``…).

    The tracking script writes URL-encoded JSON; browsers and werkzeug hand it over still
    encoded. Values are passed on as written, GA-style ``(direct)`` and ``(none)`` included.
    """
    if not raw or len(raw) > MAX_COOKIE:
        return {}
    text = raw.strip()
    # Decode until it looks like JSON: copies may arrive encoded once or twice.
    for _ in range(3):
        if text.startswith("{"):
            break
        text = unquote(text)
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    utmz = data.get("utmz") if isinstance(data, dict) else None
    if not isinstance(utmz, dict):
        return {}
    found: dict[str, str] = {}
    for key in UTM_KEYS:
        value = utmz.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            # A JSON "\u0000" decodes to NUL, which PostgreSQL text cannot store.
            text_value = str(value).replace("\x00", "").strip()[:MAX_UTM_VALUE]
            if text_value:
                found[key] = text_value
    return found


def parse_ga(raw: str | None) -> str | None:
    """The client ID ``<random>.<timestamp>`` from a ``_ga`` value, else ``None``."""
    if not raw or len(raw) > 128:
        return None
    match = _GA.match(unquote(raw.strip()))
    return f"{match.group(1)}.{match.group(2)}" if match else None


def ga_session_cookie(measurement_id: str) -> str | None:
    """The name of GA4's session cookie for a measurement id: ``G-ABC123`` -> ``_ga_ABC123``."""
    stream = measurement_id.strip().upper().removeprefix("G-")
    return f"_ga_{stream}" if stream else None


def parse_ga_session(raw: str | None) -> str | None:
    """The session id from a ``_ga_<stream>`` value (either format GA4 writes), else ``None``."""
    if not raw or len(raw) > 256:
        return None
    text = unquote(raw.strip())
    match = _GA_SESSION_1.match(text) or _GA_SESSION_2.match(text)
    return match.group(1) if match else None


def collect(
    *,
    cookie_rngst2: str | None,
    cookie_ga: str | None,
    copy_rngst2: str | None,
    copy_ga: str | None,
    client_ip: str | None,
    user_agent: str | None,
    cookie_ga_session: str | None = None,
    copy_ga_session: str | None = None,
) -> Attribution:
    """Combine cookies and the widget's copies (a cookie wins) with the connection facts."""
    utm = parse_rngst2(cookie_rngst2) or parse_rngst2(copy_rngst2)
    client_id = parse_ga(cookie_ga) or parse_ga(copy_ga)
    agent = (user_agent or "").replace("\x00", "").strip()[:MAX_USER_AGENT] or None
    return Attribution(
        utm_source=utm.get("utm_source"),
        utm_medium=utm.get("utm_medium"),
        utm_campaign=utm.get("utm_campaign"),
        utm_term=utm.get("utm_term"),
        utm_content=utm.get("utm_content"),
        client_id=client_id,
        client_ip=client_ip,
        user_agent=agent,
        ga_session_id=parse_ga_session(cookie_ga_session) or parse_ga_session(copy_ga_session),
    )
