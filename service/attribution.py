"""Marketing attribution of a request: UTM fields, GA client ID, click ids, IP, user agent.

The sources are Ringostat's ``rngst2`` cookie and Google Analytics' ``_ga`` cookie when the
service shares the site's domain, or the copies the widget read in the browser when it does not;
a cookie wins over a copy. Ad click ids (``gclid``, ``fbclid``, ``yclid``) come from the query
string of the lead's ``page_url``: the landing page is the one place they are ever seen.
Nothing here ever raises on bad input: a value we cannot read is a value we do not have.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MAX_USER_AGENT = 512
MAX_UTM_VALUE = 256
MAX_CLICK_ID = 256
MAX_COOKIE = 4096

# GA1.<domain depth, e.g. 2 or 1-2>.<random>.<timestamp>; GA4 writes GA1.1.<random>.<timestamp>.
# ASCII digits only: \d alone also matches Arabic-Indic and other digits, which no GA cookie has.
_GA = re.compile(r"^GA\d+\.\d+(?:-\d+)?\.(\d{1,20})\.(\d{1,20})$", re.ASCII)
# Ad platforms' click ids are URL-safe tokens (gclid: base64url, fbclid: letters, digits, _ and
# -, yclid: digits). Anything else in the query string is garbage and is dropped.
_CLICK_ID = re.compile(rf"^[A-Za-z0-9_\-.~]{{1,{MAX_CLICK_ID}}}$", re.ASCII)


@dataclass(frozen=True)
class Spec:
    """What the rest of the service derives from one attribution field.

    ``length``: the column's size. ``params``: provider name -> the name of the field in that
    provider's request (a provider not named has no field for it). ``query``: read from this
    parameter of the lead's ``page_url``. ``personal``: about the visitor rather than the
    campaign: never exported, erased by ``callgate leads purge``.
    """

    length: int
    description: str
    params: Mapping[str, str] = field(default_factory=dict)
    query: str | None = None
    personal: bool = False


def _declare(
    length: int,
    description: str,
    *,
    ringostat: str | None = None,
    query: str | None = None,
    personal: bool = False,
) -> Any:
    spec = Spec(
        length,
        description,
        MappingProxyType({"ringostat": ringostat} if ringostat else {}),
        query,
        personal,
    )
    return field(default=None, metadata={"spec": spec})


# The GA4 session cookie _ga_<stream>: GS1.1.<session id>.<n>.… or GS2.1.s<session id>$o<n>$….
_GA_SESSION_1 = re.compile(r"^GS1\.\d+(?:-\d+)?\.(\d{1,20})\.", re.ASCII)
_GA_SESSION_2 = re.compile(r"^GS2\.\d+(?:-\d+)?\.s(\d{1,20})(?:\$|$)", re.ASCII)


@dataclass(frozen=True)
class Attribution:
    """A lead's attribution, declared once: the model's columns, the OpenAPI ``Attribution``
    schema, what providers are sent, the CSV export and the dispatcher's claim derive from it.
    """

    utm_source: str | None = _declare(MAX_UTM_VALUE, "utm_source (rngst2)", ringostat="utmSource")
    utm_medium: str | None = _declare(MAX_UTM_VALUE, "utm_medium (rngst2)", ringostat="utmMedium")
    utm_campaign: str | None = _declare(
        MAX_UTM_VALUE, "utm_campaign (rngst2)", ringostat="utmCampaign"
    )
    utm_term: str | None = _declare(MAX_UTM_VALUE, "utm_term (rngst2)", ringostat="utmTerm")
    utm_content: str | None = _declare(
        MAX_UTM_VALUE, "utm_content (rngst2)", ringostat="utmContent"
    )
    client_id: str | None = _declare(64, "Google Analytics client id (_ga)", ringostat="clientId")
    gclid: str | None = _declare(MAX_CLICK_ID, "Google Ads click id (page_url)", query="gclid")
    fbclid: str | None = _declare(MAX_CLICK_ID, "Meta click id (page_url)", query="fbclid")
    yclid: str | None = _declare(MAX_CLICK_ID, "Yandex Direct click id (page_url)", query="yclid")
    client_ip: str | None = _declare(
        45, "The visitor's IP address", ringostat="clientIp", personal=True
    )
    user_agent: str | None = _declare(
        MAX_USER_AGENT, "The visitor's browser", ringostat="clientUserAgent", personal=True
    )
    # GA4's session id (the _ga_<stream> cookie): ties a server-side GA4 event to the visit.
    ga_session_id: str | None = _declare(20, "GA4 session id (_ga_<stream>)")

    def values(self) -> dict[str, str | None]:
        """Field name -> value, every field (the keyword arguments of a ``Lead``)."""
        return {name: getattr(self, name) for name in FIELDS}

    def known(self, *, personal: bool = True) -> dict[str, str]:
        """The fields that have a value (without the personal ones if ``personal`` is False)."""
        return {
            name: value
            for name, value in self.values().items()
            if value and (personal or not SPECS[name].personal)
        }

    @classmethod
    def of(cls, row: Any) -> Attribution:
        """The attribution of anything that has the fields as attributes (a lead, a row)."""
        return cls(**{name: getattr(row, name) for name in FIELDS})


SPECS: Mapping[str, Spec] = MappingProxyType(
    {f.name: f.metadata["spec"] for f in fields(Attribution)}
)
FIELDS: tuple[str, ...] = tuple(SPECS)
# What `callgate leads export` writes: the campaign, not the person.
EXPORTED: tuple[str, ...] = tuple(name for name, spec in SPECS.items() if not spec.personal)
# What `callgate leads purge` erases.
PERSONAL: tuple[str, ...] = tuple(name for name, spec in SPECS.items() if spec.personal)
# rngst2's snake_case keys (the UTM fields), as the cookie writes them.
UTM_KEYS: tuple[str, ...] = tuple(name for name in FIELDS if name.startswith("utm_"))


def params(provider: str) -> dict[str, str]:
    """Field name -> the provider's name for it, for the fields that provider takes."""
    return {name: spec.params[provider] for name, spec in SPECS.items() if provider in spec.params}


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


def parse_click_ids(page_url: str | None) -> dict[str, str]:
    """The click ids in ``page_url``'s query string, keyed by field; garbage is dropped."""
    if not page_url or len(page_url) > 4096:
        return {}
    try:
        query = parse_qs(urlsplit(page_url).query, max_num_fields=100)
    except ValueError:  # a broken netloc ("http://[") or too many fields
        return {}
    found: dict[str, str] = {}
    for name, spec in SPECS.items():
        values = query.get(spec.query, []) if spec.query else []
        if values and _CLICK_ID.match(values[0]):
            found[name] = values[0]
    return found


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
    page_url: str | None = None,
    cookie_ga_session: str | None = None,
    copy_ga_session: str | None = None,
) -> Attribution:
    """Combine cookies and the widget's copies (a cookie wins), the click ids of the page,
    and the connection facts."""
    utm = parse_rngst2(cookie_rngst2) or parse_rngst2(copy_rngst2)
    client_id = parse_ga(cookie_ga) or parse_ga(copy_ga)
    agent = (user_agent or "").replace("\x00", "").strip()[:MAX_USER_AGENT] or None
    return Attribution(
        **utm,
        **parse_click_ids(page_url),
        client_id=client_id,
        client_ip=client_ip,
        user_agent=agent,
        ga_session_id=parse_ga_session(cookie_ga_session) or parse_ga_session(copy_ga_session),
    )
