"""Settings: every ``CALLGATE_*`` environment variable, declared once and validated.

Each setting is one :func:`~service.config_fields.setting` below: its variable, type (which
parses it), default, bounds or choices, whether it is a secret, and one line of documentation.
From these come the reading (pydantic-settings, :class:`~service.config_fields.EnvironmentSource`),
``X_FILE`` for secrets, :meth:`Settings.secret_values` for the log filter and the configuration
reference in ``docs/configuration.md`` (``scripts/config_reference.py``). A missing or malformed
value raises :class:`ConfigError` whose message starts with the variable's name, so start-up can
stop with one readable line instead of a traceback.

To add a setting, add one declared field to the group it belongs to (or to :class:`Settings`);
``make docs-config`` then rewrites the reference.
"""

from __future__ import annotations

import base64
import os
import secrets
import warnings
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

import phonenumbers
from pydantic import BeforeValidator, Field, PlainValidator, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .addresses import DEFAULT_IPV6_PREFIX
from .config_fields import (
    E164,
    ENVIRON,
    PREFIX,
    ConfigError,
    Destinations,
    Duration,
    EnvironmentSource,
    Group,
    HttpsUrl,
    HttpsUrls,
    Limit,
    LinkTemplate,
    Networks,
    OneOf,
    OptionalHttpsUrl,
    OptionalUrl,
    Origins,
    Prefixes,
    RedisUrl,
    Region,
    Regions,
    Text,
    Url,
    Zone,
    choice,
    config_error,
    declarations,
    each,
    items,
    matching,
    parse_duration,
    parsed,
    setting,
    subset,
    text_only,
)
from .destinations import destination
from .hours_syntax import (
    Day,
    HolidayRule,
    Week,
    parse_holidays,
    parse_special_hours,
    parse_week,
)
from .logs import LOG_FORMATS

__all__ = ["PREFIX", "ConfigError", "Settings", "parse_duration"]

PROVIDERS = ("dry-run", "ringostat", "ringostat-simple", "ringcentral", "pbx")
# What dry-run may impersonate: every real provider.
REAL_PROVIDERS = PROVIDERS[1:]
# flask-limiter's in-process storage: each process counts on its own.
IN_MEMORY_LIMITS = "memory://"
PBX_TYPES = ("user", "queue", "context")
# How the PBX's outbound rules want the visitor's number written (see PbxSettings).
PBX_NUMBER_FORMATS = ("national", "digits", "e164", "00")
DISPATCHERS = ("inline", "external")
CAPTCHAS = ("none", "turnstile", "hcaptcha")
SIP_STATUS_SOURCES = ("sip", "smart-phone", "both")
ROUTE_RESPONSES = ("json", "http", "jsonrpc")

# Events out (DESIGN §10): the webhook event types, in a lead's order of life.
WEBHOOK_EVENTS = (
    "lead.accepted",
    "lead.scheduled",
    "lead.placed",
    "lead.connected",
    "lead.failed",
    "lead.unconfirmed",
    "lead.held",
)
# What may alert people (CALLGATE_NOTIFY_ON): lead events, and faults of the service itself.
NOTIFY_KINDS = (
    "accepted",
    "scheduled",
    "placed",
    "connected",
    "failed",
    "unconfirmed",
    "held",
    "provider_fault",
    "budget",
    "webhook_failed",
)
DEFAULT_NOTIFY_ON = ("failed", "unconfirmed", "held", "scheduled", "provider_fault", "budget")
NOTIFY_LANGS = ("en", "uk", "ru", "pl")
GA4_ENDPOINT = "https://www.google-analytics.com"

# libphonenumber's PhoneNumberType names, spelt the way people write them in configuration.
NUMBER_TYPES: dict[str, int] = {
    "fixed-line": phonenumbers.PhoneNumberType.FIXED_LINE,
    "mobile": phonenumbers.PhoneNumberType.MOBILE,
    "fixed-line-or-mobile": phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    "toll-free": phonenumbers.PhoneNumberType.TOLL_FREE,
    "premium-rate": phonenumbers.PhoneNumberType.PREMIUM_RATE,
    "shared-cost": phonenumbers.PhoneNumberType.SHARED_COST,
    "voip": phonenumbers.PhoneNumberType.VOIP,
    "personal-number": phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    "pager": phonenumbers.PhoneNumberType.PAGER,
    "uan": phonenumbers.PhoneNumberType.UAN,
    "voicemail": phonenumbers.PhoneNumberType.VOICEMAIL,
    "unknown": phonenumbers.PhoneNumberType.UNKNOWN,
}
DEFAULT_BLOCKED_TYPES = ("premium-rate", "shared-cost", "uan", "voicemail", "pager", "unknown")


CAPTCHA_VERIFY_URLS = {
    "none": "",
    "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    "hcaptcha": "https://api.hcaptcha.com/siteverify",
}
# The vendors' scripts for explicit rendering: the widget renders the CAPTCHA in its dialog.
CAPTCHA_SCRIPT_URLS = {
    "none": "",
    "turnstile": "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit",
    "hcaptcha": "https://js.hcaptcha.com/1/api.js?render=explicit",
}
# Where the embedded default keeps the secret it generates, so that every process and the
# CLI agree on it (form tokens, hashed numbers in the blocklist).
GENERATED_SECRET = Path("var/secret_key")


def _number_type(item: str) -> str:
    name = item.lower().replace("_", "-")
    if name not in NUMBER_TYPES:
        raise ValueError(f"{name!r} is not one of {', '.join(NUMBER_TYPES)}")
    return name


def _one_destination(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    found = items(value)
    if len(found) > 1:
        raise ValueError("give one number or SIP login")
    return destination(found[0]) if found else ""


def _webhook_secret(secret: str) -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 24 to 64 random bytes."""
    problem = "must be whsec_ followed by base64 of 24 to 64 random bytes (value not shown)"
    if not secret:
        return secret
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError:
        raise ValueError(problem) from None
    if not secret.startswith("whsec_") or not 24 <= len(key) <= 64:
        raise ValueError(problem)
    return secret


def _apprise_urls(text: str) -> tuple[str, ...]:
    """Apprise URLs (``tgram://…``, ``mailtos://…``), split the way Apprise splits them.

    They hold tokens: a refusal names the item's position and scheme, never the URL.
    """
    if not text:
        return ()
    # Imported only when alerts are configured: Apprise is large.
    import apprise
    from apprise.utils.parse import parse_urls

    from .events.notify import watch_channels

    urls = tuple(dict.fromkeys(str(url) for url in parse_urls(text)))  # type: ignore[no-untyped-call]
    watch_channels(urls)
    for position, url in enumerate(urls, start=1):
        if apprise.Apprise.instantiate(url) is None:
            scheme = url.split("://", 1)[0] if "://" in url else "?"
            raise ValueError(
                f"item {position} ({scheme}://…) is not a URL Apprise supports (value not shown)"
            )
    return urls


# Settings whose text is not the value itself.
ManagerDst = Annotated[int, choice(("0", "1"))]
FormToken = Annotated[
    bool, BeforeValidator(text_only(lambda t: OneOf(("required", "optional"))(t) == "required"))
]
NumberTypes = Annotated[tuple[str, ...], BeforeValidator(each(_number_type))]
Fallback = Annotated[str, BeforeValidator(_one_destination)]


class RingostatSettings(Group):
    api_url: Url = setting(
        "RINGOSTAT_API_URL", "https://api.ringostat.net", "base URL", section="Ringostat"
    )
    auth_key: Text = setting(
        "RINGOSTAT_AUTH_KEY", "", "the `Auth-key` header; never leaves the server", secret=True
    )
    project_id: Text = setting("RINGOSTAT_PROJECT_ID", "", "`projectId`")
    callee: Text = setting(
        "RINGOSTAT_CALLEE", "", "who answers: forwarding-scheme id, SIP login or number"
    )
    callee_type: Annotated[str, choice(("scheme", "default", "sip", "number"))] = setting(
        "RINGOSTAT_CALLEE_TYPE", "scheme", "`callee_type`"
    )
    caller_type: Annotated[str, choice(("default", "sip", "number", "scheme"))] = setting(
        "RINGOSTAT_CALLER_TYPE", "default", "`caller_type`"
    )
    manager_dst: ManagerDst = setting(
        "RINGOSTAT_MANAGER_DST",
        "0",
        "`0`: the agent first, then the visitor; `1`: the visitor first",
    )
    direction: Annotated[str, choice(("out", "in"))] = setting(
        "RINGOSTAT_DIRECTION", "out", "`direction`"
    )
    extension: Text = setting(
        "RINGOSTAT_EXTENSION", "", "`ringostat-simple`: the project number calls come from"
    )


class RingCentralSettings(Group):
    """RingOut through RingCentral's REST API, signed in with a JWT credential."""

    server_url: Url = setting(
        "RINGCENTRAL_SERVER_URL",
        "https://platform.ringcentral.com",
        "API server (`https://platform.devtest.ringcentral.com` for the sandbox)",
        section="RingCentral",
    )
    client_id: Text = setting("RINGCENTRAL_CLIENT_ID", "", "the app's client id")
    client_secret: Text = setting(
        "RINGCENTRAL_CLIENT_SECRET", "", "the app's client secret", secret=True
    )
    jwt: Text = setting(
        "RINGCENTRAL_JWT",
        "",
        "the user's JWT credential (the extension that places the calls)",
        secret=True,
    )
    from_number: E164 = setting(
        "RINGCENTRAL_FROM",
        "",
        "E.164 number of the phone that rings first (your agent)",
        shown="empty: the extension's default forwarding number",
    )
    caller_id: E164 = setting(
        "RINGCENTRAL_CALLER_ID",
        "",
        "E.164 number the visitor sees; must be one of the extension's numbers",
        shown="empty: the extension's caller-ID setting",
    )
    play_prompt: bool = setting(
        "RINGCENTRAL_PLAY_PROMPT",
        False,
        "`true`: the agent is asked to press 1 before the visitor is dialled",
    )


class PbxSettings(Group):
    """While1 Voice ``/api/originate-call``."""

    url: OptionalUrl = setting(
        "PBX_URL", "", "your PBX, e.g. `https://pbx.example.com`", section="PBX"
    )
    api_username: Text = setting("PBX_API_USERNAME", "", "`api_username`")
    api_password: Text = setting("PBX_API_PASSWORD", "", "`api_password`", secret=True)
    api_key: Text = setting(
        "PBX_API_KEY", "", "signs the request (`api_hash`); never sent", secret=True
    )
    project_id: Text = setting("PBX_PROJECT_ID", "", "`project_id`")
    type: Annotated[str, choice(PBX_TYPES)] = setting(
        "PBX_TYPE", "queue", "what `CALLGATE_PBX_DESTINATION` names"
    )
    destination: Text = setting(
        "PBX_DESTINATION", "", "the user, queue or context that takes the call"
    )
    outbound_number: Text = setting(
        "PBX_OUTBOUND_NUMBER",
        "",
        "`outbound_number`, the number the visitor sees",
        shown="empty: the PBX's choice",
    )
    outbound_trunk: Text = setting(
        "PBX_OUTBOUND_TRUNK", "", "`outbound_trunk`", shown="empty: the PBX's choice"
    )
    caller_id_format: Annotated[str, choice(PBX_NUMBER_FORMATS)] = setting(
        "PBX_CALLER_ID_FORMAT",
        "national",
        "how the visitor's number is dialled (`caller_id`): `national` (`0671112233`; numbers "
        "outside `CALLGATE_DEFAULT_REGION` as `00` + country code), `digits` (`380671112233`), "
        "`e164` (`+380671112233`), `00` (`00380671112233`)",
    )
    # Not a variable of its own: CALLGATE_DEFAULT_REGION (Settings.from_env copies it).
    home_region: str = "UA"
    default_caller_name: Text = setting(
        "PBX_DEFAULT_CALLER_NAME",
        "Website visitor",
        "`caller_id_name` when the visitor gave no name",
    )
    is_async: bool = setting(
        "PBX_ASYNC",
        True,
        "`async`; with `false` the PBX answers only when the agent does: raise "
        "`CALLGATE_PROVIDER_READ_TIMEOUT` to match",
    )
    # None: leave the PBX's own default (the variable is not sent).
    skip_welcome: bool | None = setting(
        "PBX_SKIP_WELCOME", None, "`vars[SKIP_WELCOME]` as `1`/`0`", shown="unset: not sent"
    )
    skip_we_are_recording: bool | None = setting(
        "PBX_SKIP_WE_ARE_RECORDING",
        None,
        "`vars[SKIP_WE_ARE_RECORDING]` as `1`/`0`",
        shown="unset: not sent",
    )
    skip_enter_queue: bool | None = setting(
        "PBX_SKIP_ENTER_QUEUE",
        None,
        "`vars[SKIP_ENTER_QUEUE]` as `1`/`0`",
        shown="unset: not sent",
    )
    backend_link: LinkTemplate = setting(
        "PBX_BACKEND_LINK",
        "",
        "`vars[BACKEND_LINK]`, the agent's pop-up link; `{lead_id}` is replaced by the lead id",
        shown="unset: not sent",
    )


class SchemaSettings(Group):
    """The database schema when a web process starts (docs/operations.md)."""

    auto_migrate: bool = setting(
        "AUTO_MIGRATE",
        True,
        "on: bring the schema to head at start, once, under a lock; off: refuse to start while "
        "it is behind, naming `callgate db upgrade` (migrations run as a release step)",
        section="Database schema",
    )


class ClientAddressSettings(Group):
    """How a client's address is keyed by the per-address limits and caps."""

    # One /64 is one subscriber, who holds 2^64 addresses and would otherwise get a fresh
    # budget with each.
    ipv6_prefix: int = setting(
        "IPV6_PREFIX",
        DEFAULT_IPV6_PREFIX,
        "per-address limits and caps key an IPv6 client by its network of this length "
        "(IPv4 clients by their address)",
        ge=32,
        le=128,
    )


class AgentSettings(Group):
    """Ringostat SIP status: who is online and not speaking, and what depends on it."""

    require_online: bool = setting(
        "REQUIRE_AGENT_ONLINE",
        False,
        "`true`: a lead is placed only while an agent is free; otherwise it waits as "
        "`waiting_for_agent` (not an attempt) and is re-checked with backoff until one is, or "
        "`CALLGATE_MAX_AGE` fails it. Needs `CALLGATE_RINGOSTAT_AUTH_KEY`",
        section="Agents online (Ringostat SIP status)",
    )
    logins: Destinations = setting(
        "AGENT_LOGINS",
        "",
        "comma-separated SIP logins that count as agents (e.g. "
        "`supportrngst_manager1,supportrngst_manager2`); their order breaks ties when routing",
        shown="empty: any",
    )
    recheck_cap: Duration = setting(
        "AGENT_RECHECK_CAP",
        "30s",
        "longest pause between re-checks of a waiting lead (they start at "
        "`CALLGATE_RETRY_BASE` and double)",
    )
    source: Annotated[str, choice(SIP_STATUS_SOURCES)] = setting(
        "SIPSTATUS_SOURCE",
        "sip",
        "`sip`: `/sipstatus/online`; `smart-phone`: the Ringostat Smart Phone variant "
        "(`/sipstatus/online?project_id=…&token=…&withRspDoNotDisturbSips=…`); "
        "`both`: either counts",
    )
    smart_phone_token: Text = setting(
        "RINGOSTAT_SMART_PHONE_TOKEN",
        "",
        "the Smart Phone `token`; required for `smart-phone` and `both` (with "
        "`CALLGATE_RINGOSTAT_PROJECT_ID`)",
        secret=True,
    )
    with_dnd: bool = setting(
        "SIPSTATUS_WITH_DND",
        False,
        '`withRspDoNotDisturbSips`: whether Smart Phone logins in "do not disturb" are listed '
        "as online",
    )
    status_ttl: Duration = setting("SIPSTATUS_TTL", "5s", "how long an answer is fresh")
    status_max_age: Duration = setting(
        "SIPSTATUS_MAX_AGE", "30s", "how long a stale answer may still be used"
    )


class RouteSettings(Group):
    """Ringostat's call-routing webhook, ``/api/v1/ringostat/route``."""

    # It travels in a URL Ringostat stores: long, random, and URL-safe as it is.
    token: Annotated[
        str,
        parsed(
            matching(r"[A-Za-z0-9_\-]{16,}", "use at least 16 letters, digits, '-' or '_'", False)
        ),
    ] = setting(
        "ROUTE_TOKEN",
        "",
        "empty: the endpoint answers 404; else at least 16 letters, digits, `-`, `_`: e.g. "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`",
        secret=True,
        section="Routing incoming calls",
    )
    response: Annotated[str, choice(ROUTE_RESPONSES)] = setting(
        "ROUTE_RESPONSE", "json", 'Ringostat\'s "data import type"'
    )
    response_key: Annotated[
        str, parsed(matching(r"[A-Za-z0-9_.\-]{1,64}", "a JSON key like number_01"))
    ] = setting("ROUTE_RESPONSE_KEY", "destination", "the JSON key for the destination")
    caller_param: Annotated[str, parsed(matching(r"[A-Za-z0-9_\-]{1,64}", "a parameter name"))] = (
        setting(
            "ROUTE_CALLER_PARAM",
            "caller",
            "the webhook parameter that carries the caller's number (any format: "
            "`380671112233`, `+380…`, `%2B380…`, national)",
        )
    )
    fallback: Fallback = setting("ROUTE_FALLBACK", "", "number or SIP login when no rule applies")
    sticky_window: Duration = setting(
        "STICKY_WINDOW",
        "24h",
        "how recent a placed callback must be for its caller to be routed back to its agent; "
        "`0` turns sticky routing off",
    )


class EventSettings(Group):
    """Events out: signed webhooks, chat and e-mail alerts (Apprise), GA4 Measurement Protocol."""

    webhook_urls: HttpsUrls = setting(
        "WEBHOOK_URL",
        "",
        "your endpoints, comma-separated; each gets every event. `https://` only (plain "
        "`http://` only on a loopback host such as `127.0.0.1`, for a local relay)",
        shown="empty: no webhooks",
        section="CRM webhooks",
    )
    webhook_secret: Annotated[str, parsed(_webhook_secret)] = setting(
        "WEBHOOK_SECRET",
        "",
        "`whsec_` followed by base64 of 24 to 64 random bytes; required with a URL",
        secret=True,
    )
    webhook_events: Annotated[
        tuple[str, ...], subset(WEBHOOK_EVENTS, prefix="lead.", none=False)
    ] = setting(
        "WEBHOOK_EVENTS",
        "all",
        "which events to send, comma-separated, with or without `lead.`: `failed,placed`",
    )
    # Apprise URLs, one per channel; they carry tokens, so the whole URL is a secret.
    notify_urls: Annotated[tuple[str, ...], parsed(_apprise_urls)] = setting(
        "NOTIFY_URLS",
        "",
        "Apprise URLs, one per channel, separated by spaces or commas; they hold tokens",
        secret=True,
        shown="empty: no alerts",
        section="Chat and e-mail alerts",
    )
    notify_on: Annotated[tuple[str, ...], subset(NOTIFY_KINDS, every=())] = setting(
        "NOTIFY_ON", ",".join(DEFAULT_NOTIFY_ON), "what alerts people; `none`: nothing"
    )
    notify_lang: Annotated[str, choice(NOTIFY_LANGS)] = setting(
        "NOTIFY_LANG", "en", "the alerts' language"
    )
    ga4_measurement_id: Annotated[
        str,
        parsed(lambda t: matching(r"G-[A-Z0-9]{4,20}", "a GA4 id like G-ABC123DEF4")(t.upper())),
    ] = setting(
        "GA4_MEASUREMENT_ID",
        "",
        "the web stream's id, `G-XXXXXXXXXX`",
        shown="empty: no GA4 events",
        section="GA4 lead events",
    )
    ga4_api_secret: Text = setting(
        "GA4_API_SECRET",
        "",
        "required with the id: Admin → Data streams → the stream → Measurement Protocol API "
        "secrets",
        secret=True,
    )
    ga4_endpoint: HttpsUrl = setting(
        "GA4_ENDPOINT",
        GA4_ENDPOINT,
        "`https://region1.google-analytics.com` for EU collection; `http://` only on a loopback "
        "host",
    )
    connect_timeout: float = 3.05
    read_timeout: float = 10.0

    @property
    def ga4_enabled(self) -> bool:
        return bool(self.ga4_measurement_id and self.ga4_api_secret)


class HoursSettings(Group):
    """Office hours, closed days and bookable slots (docs/office-hours.md)."""

    timezone: Zone = setting(
        "TIMEZONE",
        "Europe/Kyiv",
        "the office's IANA time zone; every time below is local to it",
        section="Office hours",
    )
    week: Annotated[Week, PlainValidator(text_only(parse_week))] = setting(
        "OFFICE_HOURS",
        "",
        "the week's hours, e.g. `Mon-Fri 09:00-18:00; Sat 10:00-14:00`",
        shown="empty: always open",
    )
    holidays: Annotated[HolidayRule, PlainValidator(text_only(parse_holidays))] = setting(
        "HOLIDAYS",
        "",
        "closed days: a country (and subdivision) of the `holidays` package and/or dates, e.g. "
        "`us-ca, 2026-12-24`",
    )
    # Dates with other hours; () means closed that day.
    special: Annotated[
        tuple[tuple[date, Day], ...], PlainValidator(text_only(parse_special_hours))
    ] = setting(
        "SPECIAL_HOURS",
        "",
        "dates with other hours, e.g. `2026-12-31 09:00-14:00; 2027-01-02 closed`",
    )
    slot_minutes: int = setting("SLOT_MINUTES", 15, "slot length in minutes", ge=1, le=1440)
    slot_capacity: int = setting(
        "SLOT_CAPACITY", 10, "calls that may be booked into one slot", ge=1, le=10**6
    )
    schedule_days: int = setting(
        "SCHEDULE_DAYS",
        7,
        "how far ahead a visitor may book: today and this many days more",
        ge=0,
        le=366,
    )


# A field named "schema" shadows BaseModel.schema(), a deprecated classmethod nobody calls here.
warnings.filterwarnings("ignore", 'Field name "schema" in "Settings"', UserWarning)


class MetricsSettings(Group):
    """Who may read ``GET /metrics``, and where the processes of one instance keep their counts."""

    token: Text = setting(
        "METRICS_TOKEN",
        "",
        "a bearer token that may read `/metrics` from anywhere; at least 16 characters",
        secret=True,
        section="Metrics",
        shown="none: addresses only",
    )
    allow: Networks = setting(
        "METRICS_ALLOW",
        "127.0.0.0/8,::1/128",
        "addresses or networks that may read `/metrics` without the token (after "
        "`CALLGATE_TRUSTED_PROXIES`); `none`: none",
    )
    dir: Text = setting(
        "METRICS_DIR",
        "var/metrics",
        "where the processes of one instance (`callgate serve`, `callgate worker`) keep their "
        "counts, so that a scrape adds them up ([Metrics](metrics.md))",
    )

    @field_validator("token")
    @classmethod
    def _long_enough(cls, token: str) -> str:
        if token and len(token) < 16:
            raise ValueError("use at least 16 characters (not shown here)")
        return token


class Settings(BaseSettings):
    """Everything configurable. Tests build it directly; production uses :meth:`from_env`."""

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        validate_default=True,
        arbitrary_types_allowed=True,
        extra="forbid",
    )

    provider: Annotated[str, choice(PROVIDERS)] = setting(
        "PROVIDER",
        "dry-run",
        "who places the calls ([Providers](providers/index.md))",
        section="Core",
    )
    # A server's URL carries its password: it may come as a file (CALLGATE_DATABASE_URL_FILE),
    # and the password alone is redacted from logs (secret_values).
    database_url: Text = setting(
        "DATABASE_URL",
        "sqlite:///var/callgate.db",
        "SQLAlchemy URL; `postgresql+psycopg://user:pass@host/db` for several instances "
        "(its password is redacted from logs; `CALLGATE_DATABASE_URL_FILE` accepted)",
        from_file=True,
    )
    ratelimit_storage_url: Text = setting(
        "RATELIMIT_STORAGE_URL",
        IN_MEMORY_LIMITS,
        "flask-limiter storage; `redis://host:6379/0` for several instances",
        shown="`CALLGATE_REDIS_URL` when that is set, else `memory://` (one process's own count)",
    )
    redis_url: RedisUrl = setting(
        "REDIS_URL",
        "",
        "Redis for short shared caches (agent status, routing turns); every call has a 50 ms "
        "timeout, and while Redis fails each process falls back to its own state",
        shown="`CALLGATE_RATELIMIT_STORAGE_URL` when that is `redis://` or `rediss://`, else none",
    )
    allowed_origins: Origins = setting(
        "ALLOWED_ORIGINS",
        "",
        "comma-separated origins (`https://www.example.com`) that may post and read answers (CORS)",
        shown="empty: same origin only",
    )
    default_region: Region = setting(
        "DEFAULT_REGION", "UA", "region for numbers written without a country code"
    )
    allowed_countries: Regions = setting(
        "ALLOWED_COUNTRIES",
        "UA",
        "ISO codes of countries that may be called",
        shown="the default region",
    )
    blocked_number_types: NumberTypes = setting(
        "BLOCKED_NUMBER_TYPES",
        ",".join(DEFAULT_BLOCKED_TYPES),
        "number types never called (libphonenumber's types, e.g. also `voip`, `toll-free`); "
        "set but empty: none",
        blank_is_empty=True,
    )
    trusted_proxies: int = setting(
        "TRUSTED_PROXIES",
        0,
        "how many `X-Forwarded-For` hops to trust for the client IP",
        ge=0,
        le=10,
    )
    dedupe_window: Duration = setting(
        "DEDUPE_WINDOW",
        "10m",
        "a second request for the same number within it is absorbed by the open lead (the "
        "same client gets that lead, anyone else an alias: "
        "[Security](security.md#what-a-repeat-is-answered))",
    )
    secret_key: Text = setting(
        "SECRET_KEY",
        "",
        "keys the hashes of numbers in rate-limit storage and the blocklist, signs form tokens "
        "([Security](security.md#the-secret-key)); required unless the provider is `dry-run`",
        secret=True,
        shown="with dry-run and none given, generated once into `var/secret_key`",
    )
    bind: Text = setting("BIND", "127.0.0.1:8000", "gunicorn's address")
    workers: int = setting(
        "WORKERS",
        1,
        "gunicorn worker processes; more than one needs a limit storage every process shares "
        "([Security](security.md#layouts))",
        shown="1 while the limits are in memory, else 2",
        ge=1,
        le=64,
    )
    threads: int = setting("THREADS", 4, "threads per gunicorn worker", ge=1, le=256)
    log_level: Annotated[str, choice(("DEBUG", "INFO", "WARNING", "ERROR"), upper=True)] = setting(
        "LOG_LEVEL", "INFO", "the least severe records logged"
    )
    log_format: Annotated[str, choice(LOG_FORMATS)] = setting(
        "LOG_FORMAT",
        "text",
        "`text`: one line per record; `json`: one JSON object per line "
        "([Operations](operations.md#logs))",
    )
    schema: SchemaSettings = Field(default_factory=SchemaSettings)  # type: ignore[assignment]

    limit_per_ip: Limit = setting(
        "LIMIT_PER_IP",
        "5/minute;30/day",
        "every attempt from one client IP",
        section="Rate limits",
    )
    limit_per_phone: Limit = setting(
        "LIMIT_PER_PHONE", "3/hour", "valid requests to one number, from any IP"
    )
    limit_per_country: Limit = setting(
        "LIMIT_PER_COUNTRY", "100/hour", "valid requests to one destination country"
    )
    limit_global: Limit = setting("LIMIT_GLOBAL", "300/hour", "valid requests in all")
    # Per process, while the shared rate-limit storage is unreachable: stricter on purpose,
    # since every worker of every instance then counts on its own.
    limit_fallback_per_ip: Limit = setting(
        "LIMIT_FALLBACK_PER_IP",
        "2/minute;10/day",
        "per process, while the rate-limit storage is unreachable (replaces the per-IP limit)",
    )
    limit_fallback_per_phone: Limit = setting(
        "LIMIT_FALLBACK_PER_PHONE",
        "1/hour",
        "per process, while the rate-limit storage is unreachable",
    )
    limit_fallback_global: Limit = setting(
        "LIMIT_FALLBACK_GLOBAL",
        "60/hour",
        "per process, while the rate-limit storage is unreachable",
    )
    client_address: ClientAddressSettings = Field(default_factory=ClientAddressSettings)

    blocked_prefixes: Prefixes = setting(
        "BLOCKED_PREFIXES",
        "",
        "number ranges never called, e.g. `+3809,+44 70`",
        section="Abuse defences",
    )
    max_numbers_per_ip: int = setting(
        "MAX_NUMBERS_PER_IP",
        3,
        "distinct numbers one address may ask for in an hour; `0` = no cap",
        ge=0,
        le=10**7,
    )
    blocklist_refresh: Duration = setting(
        "BLOCKLIST_REFRESH", "5s", "how often each process re-reads the blocklist"
    )
    daily_call_budget: int = setting(
        "DAILY_CALL_BUDGET",
        1000,
        "calls a day; past it leads are stored but `held`; `0` = none",
        ge=0,
        le=10**7,
    )
    form_token_required: FormToken = setting(
        "FORM_TOKEN",
        "required",
        "`optional` for sites that post a plain HTML form without JavaScript",
    )
    form_token_min_age: Duration = setting(
        "FORM_TOKEN_MIN_AGE", "2s", "a younger form token is refused"
    )
    form_token_max_age: Duration = setting(
        "FORM_TOKEN_MAX_AGE", "4h", "an older form token is refused"
    )
    require_consent: bool = setting(
        "REQUIRE_CONSENT",
        False,
        "`true`: a ticked consent checkbox is required, and stored with the lead",
    )
    consent_version: Annotated[str, parsed(lambda t: t[:32])] = setting(
        "CONSENT_VERSION", "1", "the version of the consent text, stored with the lead"
    )

    captcha: Annotated[str, choice(CAPTCHAS)] = setting(
        "CAPTCHA",
        "none",
        "`turnstile` or `hcaptcha`: every callback request must carry a token the vendor accepts",
        section="CAPTCHA",
    )
    captcha_secret: Text = setting(
        "CAPTCHA_SECRET",
        "",
        "the vendor's secret key, for verification; required with a CAPTCHA",
        secret=True,
    )
    captcha_site_key: Text = setting(
        "CAPTCHA_SITE_KEY",
        "",
        "the public site key the widget renders the CAPTCHA with (in `widget-config`); "
        "required with a CAPTCHA, which nobody could solve without it",
    )
    captcha_verify_url: OptionalUrl = setting(
        "CAPTCHA_VERIFY_URL",
        "",
        "where tokens are verified; read only with a CAPTCHA",
        shown=", ".join(f"`{u}`" for u in CAPTCHA_VERIFY_URLS.values() if u),
    )
    captcha_script_url: OptionalHttpsUrl = setting(
        "CAPTCHA_SCRIPT_URL",
        "",
        "the vendor's explicit-render script the widget loads into its dialog (in "
        "`widget-config`); https (plain http only on a loopback host: an https page blocks an "
        "http script as mixed content); read only with a CAPTCHA",
        shown=", ".join(f"`{u}`" for u in CAPTCHA_SCRIPT_URLS.values() if u),
    )

    dispatcher: Annotated[str, choice(DISPATCHERS)] = setting(
        "DISPATCHER",
        "inline",
        "`inline`: dispatcher threads in each web process; `external`: run `callgate worker`",
        section="Dispatch and retries",
    )
    dispatch_threads: int = setting(
        "DISPATCH_THREADS",
        16,
        "concurrent provider calls per process (a provider that answers in 300 ms needs 60 in "
        "flight for 200 calls/s)",
        ge=1,
        le=256,
    )
    dispatch_lease: Duration = setting(
        "DISPATCH_LEASE",
        "30s",
        "how long a claimed lead is held before another worker may take it over",
    )
    dispatch_poll: Duration = setting(
        "DISPATCH_POLL", "1s", "how often idle dispatchers look for retries that fell due"
    )
    max_attempts: int = setting(
        "MAX_ATTEMPTS", 6, "after so many attempts a lead not placed is `failed`", ge=1, le=100
    )
    max_age: Duration = setting("MAX_AGE", "1h", "after so long a lead not placed is `failed`")
    retry_base: Duration = setting(
        "RETRY_BASE", "2s", "the first pause of the exponential backoff (with jitter)"
    )
    retry_cap: Duration = setting("RETRY_CAP", "5m", "the longest pause between attempts")
    provider_connect_timeout: Duration = setting(
        "PROVIDER_CONNECT_TIMEOUT", "3.05s", "connect timeout of every provider request"
    )
    provider_read_timeout: Duration = setting(
        "PROVIDER_READ_TIMEOUT", "10s", "read timeout of every provider request"
    )
    # Providers that report a call's fate (RingCentral) are asked this often, this long.
    status_poll_interval: Duration = setting(
        "STATUS_POLL_INTERVAL",
        "5s",
        "providers that report on a placed call (RingCentral): how often to ask",
    )
    status_poll_for: Duration = setting("STATUS_POLL_FOR", "10m", "…and for how long after placing")

    ringostat: RingostatSettings = Field(default_factory=RingostatSettings)
    ringcentral: RingCentralSettings = Field(default_factory=RingCentralSettings)
    pbx: PbxSettings = Field(default_factory=PbxSettings)
    dry_run_as: Annotated[str, choice(REAL_PROVIDERS)] = setting(
        "DRY_RUN_AS",
        "ringostat",
        "the real provider whose payloads `dry-run` builds and logs",
        section="Dry-run",
    )
    agents: AgentSettings = Field(default_factory=AgentSettings)
    route: RouteSettings = Field(default_factory=RouteSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    hours: HoursSettings = Field(default_factory=HoursSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments first, then the declared variables (only inside :meth:`from_env`)."""
        return (init_settings, EnvironmentSource(settings_cls))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every ``CALLGATE_*`` variable; raise :class:`ConfigError`."""
        environ = os.environ if environ is None else environ
        token = ENVIRON.set(environ)
        try:
            settings = cls()
        except ValidationError as exc:
            raise config_error(exc, cls) from None
        finally:
            ENVIRON.reset(token)
        settings = settings._derived(environ)
        settings.check()
        return settings

    def _derived(self, environ: Mapping[str, str]) -> Settings:
        """Defaults that follow other settings, as the reference describes them."""

        def unset(suffix: str) -> bool:
            return not environ.get(PREFIX + suffix, "").strip()

        captcha_on = self.captcha != "none"
        secret_key = self.secret_key
        if not secret_key and self.provider == "dry-run":
            secret_key = _generated_secret(GENERATED_SECRET)
        storage = self.ratelimit_storage_url
        if unset("RATELIMIT_STORAGE_URL") and self.redis_url:
            # Redis configured for the shared caches holds the limits too: one budget for every
            # process without a second setting.
            storage = self.redis_url
        shared = storage if storage.startswith(("redis://", "rediss://")) else ""
        return self.model_copy(
            update={
                "secret_key": secret_key,
                "allowed_countries": (
                    (self.default_region,) if unset("ALLOWED_COUNTRIES") else self.allowed_countries
                ),
                "redis_url": shared if unset("REDIS_URL") else self.redis_url,
                "ratelimit_storage_url": storage,
                "workers": default_workers(storage) if unset("WORKERS") else self.workers,
                "captcha_verify_url": (
                    (self.captcha_verify_url or CAPTCHA_VERIFY_URLS[self.captcha])
                    if captcha_on
                    else ""
                ),
                "captcha_script_url": (
                    (self.captcha_script_url or CAPTCHA_SCRIPT_URLS[self.captcha])
                    if captcha_on
                    else ""
                ),
                "pbx": self.pbx.model_copy(update={"home_region": self.default_region}),
            }
        )

    def check(self) -> None:
        """Fail when settings that go together are not all given."""
        if self.workers > 1 and self.ratelimit_storage_url == IN_MEMORY_LIMITS:
            raise ConfigError(
                PREFIX + "WORKERS",
                f"{self.workers} worker processes with CALLGATE_RATELIMIT_STORAGE_URL="
                f"{IN_MEMORY_LIMITS} would each count every limit on their own ({self.workers} "
                "times the budget): run one worker (CALLGATE_WORKERS=1, more CALLGATE_THREADS) "
                "or give the limits a storage every process shares "
                "(CALLGATE_RATELIMIT_STORAGE_URL=redis://…)",
            )
        if not self.secret_key:
            raise ConfigError(PREFIX + "SECRET_KEY", "required unless CALLGATE_PROVIDER=dry-run")
        if self.captcha != "none":
            for suffix, value in (
                ("CAPTCHA_SECRET", self.captcha_secret),
                ("CAPTCHA_SITE_KEY", self.captcha_site_key),
            ):
                _require(suffix, value, f"CALLGATE_CAPTCHA={self.captcha}")
        self.check_provider()
        self.check_agents()
        events = self.events
        if events.webhook_urls:
            _require("WEBHOOK_SECRET", events.webhook_secret, "CALLGATE_WEBHOOK_URL is set")
        if events.ga4_measurement_id:
            _require("GA4_API_SECRET", events.ga4_api_secret, "CALLGATE_GA4_MEASUREMENT_ID is set")
        if events.ga4_api_secret:
            _require(
                "GA4_MEASUREMENT_ID", events.ga4_measurement_id, "CALLGATE_GA4_API_SECRET is set"
            )

    def check_provider(self) -> None:
        """Fail when the chosen provider lacks what it needs to place a call."""
        required: dict[str, tuple[tuple[str, str], ...]] = {
            "ringostat": (
                ("RINGOSTAT_AUTH_KEY", self.ringostat.auth_key),
                ("RINGOSTAT_PROJECT_ID", self.ringostat.project_id),
                ("RINGOSTAT_CALLEE", self.ringostat.callee),
            ),
            "ringostat-simple": (
                ("RINGOSTAT_AUTH_KEY", self.ringostat.auth_key),
                ("RINGOSTAT_EXTENSION", self.ringostat.extension),
            ),
            "ringcentral": (
                ("RINGCENTRAL_CLIENT_ID", self.ringcentral.client_id),
                ("RINGCENTRAL_CLIENT_SECRET", self.ringcentral.client_secret),
                ("RINGCENTRAL_JWT", self.ringcentral.jwt),
            ),
            "pbx": (
                ("PBX_URL", self.pbx.url),
                ("PBX_API_USERNAME", self.pbx.api_username),
                ("PBX_API_PASSWORD", self.pbx.api_password),
                ("PBX_API_KEY", self.pbx.api_key),
                ("PBX_PROJECT_ID", self.pbx.project_id),
                ("PBX_DESTINATION", self.pbx.destination),
            ),
        }
        for suffix, value in required.get(self.provider, ()):
            _require(suffix, value, f"CALLGATE_PROVIDER={self.provider}")

    def check_agents(self) -> None:
        """Fail when agent status or routing is asked for without what it needs."""
        if self.agents.require_online:
            _require(
                "RINGOSTAT_AUTH_KEY", self.ringostat.auth_key, "CALLGATE_REQUIRE_AGENT_ONLINE=true"
            )
        if self.agents.source != "sip":
            when = f"CALLGATE_SIPSTATUS_SOURCE={self.agents.source}"
            _require("RINGOSTAT_SMART_PHONE_TOKEN", self.agents.smart_phone_token, when)
            _require("RINGOSTAT_PROJECT_ID", self.ringostat.project_id, when)
        if self.agents.status_max_age < self.agents.status_ttl:
            raise ConfigError(
                PREFIX + "SIPSTATUS_MAX_AGE", "must not be shorter than CALLGATE_SIPSTATUS_TTL"
            )

    def secret_values(self) -> tuple[str, ...]:
        """Every secret in force (each setting declared ``secret``), so logs can redact them."""
        values: list[str] = []
        for declared in declarations(type(self)):
            value: Any = self
            for attribute in declared.path:
                value = getattr(value, attribute)
            if declared.secret:
                values += value if isinstance(value, tuple) else [value]
        # The database server's password on its own too: a driver's error may quote it alone.
        values.append(urlsplit(self.database_url).password or "")
        return tuple(v for v in values if v)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def default_workers(ratelimit_storage_url: str) -> int:
    """gunicorn worker processes unless ``CALLGATE_WORKERS`` says otherwise.

    In-memory limits are counted by each process on its own, so the embedded default runs one
    process (with threads); a shared storage lets several processes keep one budget.
    """
    return 1 if ratelimit_storage_url == IN_MEMORY_LIMITS else 2


def _require(suffix: str, value: str, when: str) -> None:
    if not value:
        raise ConfigError(PREFIX + suffix, f"required when {when}")


def _generated_secret(path: Path) -> str:
    """Read the generated secret, or create it (0600) on first use."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value
