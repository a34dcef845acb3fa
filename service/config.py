"""Settings, read once from ``CALLGATE_*`` environment variables and validated.

Every variable the service reads is declared here and nowhere else. A missing or malformed value
raises :class:`ConfigError` whose message starts with the variable's name, so start-up can stop
with one readable line instead of a traceback. Any secret ``X`` may also come as ``X_FILE``: a
path whose content is the value (Docker and Kubernetes secrets).
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import limits
import phonenumbers

from .destinations import destination
from .hours_syntax import (
    ALWAYS_OPEN,
    Day,
    HolidayRule,
    Week,
    parse_holidays,
    parse_special_hours,
    parse_week,
)
from .logs import LOG_FORMATS

PREFIX = "CALLGATE_"

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


class ConfigError(ValueError):
    """A setting is missing or malformed; ``str()`` names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class RingostatSettings:
    api_url: str = "https://api.ringostat.net"
    auth_key: str = field(default="", repr=False)
    project_id: str = ""
    callee: str = ""
    callee_type: str = "scheme"
    caller_type: str = "default"
    manager_dst: int = 0
    direction: str = "out"
    extension: str = ""


@dataclass(frozen=True)
class RingCentralSettings:
    """RingOut through RingCentral's REST API, signed in with a JWT credential."""

    server_url: str = "https://platform.ringcentral.com"
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    jwt: str = field(default="", repr=False)
    # E.164; empty: RingCentral uses the extension's default forwarding number / caller ID.
    from_number: str = ""
    caller_id: str = ""
    play_prompt: bool = False


@dataclass(frozen=True)
class PbxSettings:
    """While1 Voice ``/api/originate-call``."""

    url: str = ""
    api_username: str = ""
    api_password: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)
    project_id: str = ""
    type: str = "queue"
    destination: str = ""
    outbound_number: str = ""
    outbound_trunk: str = ""
    # national: 0671112233 for a number of the home region (others get 00 + digits);
    # digits: 380671112233; e164: +380671112233; 00: 00380671112233.
    caller_id_format: str = "national"
    home_region: str = "UA"
    default_caller_name: str = "Website visitor"
    is_async: bool = True
    # None: leave the PBX's own default (the variable is not sent).
    skip_welcome: bool | None = None
    skip_we_are_recording: bool | None = None
    skip_enter_queue: bool | None = None
    # A URL with {lead_id}, shown to the agent as a pop-up link.
    backend_link: str = ""


@dataclass(frozen=True)
class SchemaSettings:
    """The database schema when a web process starts (docs/operations.md)."""

    # On: bring the schema to head at start, once, under a lock. Off: refuse to start while
    # it is behind, naming `callgate db upgrade` (migrations run as a release step).
    auto_migrate: bool = True


@dataclass(frozen=True)
class AgentSettings:
    """Ringostat SIP status: who is online and not speaking, and what depends on it."""

    logins: tuple[str, ...] = ()  # empty: any SIP login of the project
    require_online: bool = False
    source: str = "sip"  # sip | smart-phone | both
    smart_phone_token: str = field(default="", repr=False)
    with_dnd: bool = False  # withRspDoNotDisturbSips
    status_ttl: float = 5.0
    status_max_age: float = 30.0
    recheck_cap: float = 30.0


@dataclass(frozen=True)
class ClientAddressSettings:
    """How a client's address is keyed by the per-address limits and caps."""

    # An IPv6 client is keyed by its network of this length: one /64 is one subscriber, who
    # holds 2^64 addresses and would otherwise get a fresh budget with each.
    ipv6_prefix: int = 64


@dataclass(frozen=True)
class RouteSettings:
    """Ringostat's call-routing webhook, ``/api/v1/ringostat/route``."""

    token: str = field(default="", repr=False)  # empty: the endpoint answers 404
    response: str = "json"  # json | http | jsonrpc: Ringostat's "data import type"
    response_key: str = "destination"
    caller_param: str = "caller"
    fallback: str = ""  # empty: no destination, Ringostat goes on with its scheme
    sticky_window: float = 86400.0


@dataclass(frozen=True)
class EventSettings:
    """Events out: signed webhooks, chat and e-mail alerts (Apprise), GA4 Measurement Protocol."""

    webhook_urls: tuple[str, ...] = ()  # empty: no webhooks
    webhook_secret: str = field(default="", repr=False)  # whsec_<base64>
    webhook_events: tuple[str, ...] = WEBHOOK_EVENTS
    # Apprise URLs, one per channel; they carry tokens, so the whole URL is a secret.
    notify_urls: tuple[str, ...] = field(default=(), repr=False)
    notify_on: tuple[str, ...] = DEFAULT_NOTIFY_ON
    notify_lang: str = "en"
    ga4_measurement_id: str = ""  # G-XXXXXXX; empty: no GA4 events
    ga4_api_secret: str = field(default="", repr=False)
    ga4_endpoint: str = GA4_ENDPOINT
    connect_timeout: float = 3.05
    read_timeout: float = 10.0

    @property
    def ga4_enabled(self) -> bool:
        return bool(self.ga4_measurement_id and self.ga4_api_secret)

    def secrets(self) -> tuple[str, ...]:
        return (self.webhook_secret, self.ga4_api_secret, *self.notify_urls)


@dataclass(frozen=True)
class HoursSettings:
    """Office hours, closed days and bookable slots (docs/office-hours.md)."""

    timezone: str = "Europe/Kyiv"  # IANA name; times below are local to it
    week: Week = ALWAYS_OPEN  # CALLGATE_OFFICE_HOURS; empty: always open
    holidays: HolidayRule = field(default_factory=HolidayRule)
    special: tuple[tuple[date, Day], ...] = ()  # dates with other hours, () = closed
    slot_minutes: int = 15
    slot_capacity: int = 10  # calls that may be booked into one slot
    schedule_days: int = 7  # how far ahead a visitor may book: today and this many days


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Tests build it directly; production uses :meth:`from_env`."""

    provider: str = "dry-run"
    database_url: str = "sqlite:///var/callgate.db"
    ratelimit_storage_url: str = IN_MEMORY_LIMITS
    allowed_origins: tuple[str, ...] = ()
    default_region: str = "UA"
    allowed_countries: tuple[str, ...] = ("UA",)
    blocked_number_types: tuple[str, ...] = DEFAULT_BLOCKED_TYPES
    trusted_proxies: int = 0
    limit_per_ip: str = "5/minute;30/day"
    limit_per_phone: str = "3/hour"
    limit_global: str = "300/hour"
    # Per process, while the shared rate-limit storage is unreachable: stricter on purpose,
    # since every worker of every instance then counts on its own.
    limit_fallback_per_ip: str = "2/minute;10/day"
    limit_fallback_per_phone: str = "1/hour"
    limit_fallback_global: str = "60/hour"
    dispatcher: str = "inline"
    dispatch_threads: int = 16
    dispatch_lease: float = 30.0
    dispatch_poll: float = 1.0
    max_attempts: int = 6
    max_age: float = 3600.0
    retry_base: float = 2.0
    retry_cap: float = 300.0
    dedupe_window: float = 600.0
    provider_connect_timeout: float = 3.05
    provider_read_timeout: float = 10.0
    secret_key: str = field(default="", repr=False)
    log_level: str = "INFO"
    log_format: str = "text"
    # Abuse defences (see README, "Security").
    blocked_prefixes: tuple[str, ...] = ()
    limit_per_country: str = "100/hour"
    max_numbers_per_ip: int = 3
    blocklist_refresh: float = 5.0
    daily_call_budget: int = 1000
    form_token_required: bool = True
    form_token_min_age: float = 2.0
    form_token_max_age: float = 4 * 3600.0
    captcha: str = "none"
    captcha_secret: str = field(default="", repr=False)
    captcha_site_key: str = ""
    captcha_verify_url: str = ""
    captcha_script_url: str = ""
    require_consent: bool = False
    consent_version: str = "1"
    bind: str = "127.0.0.1:8000"
    workers: int = 1  # default_workers(): one process while the limits live in its memory
    threads: int = 4
    ringostat: RingostatSettings = field(default_factory=RingostatSettings)
    redis_url: str = ""  # short shared caches; empty: each process keeps its own
    agents: AgentSettings = field(default_factory=AgentSettings)
    schema: SchemaSettings = field(default_factory=SchemaSettings)
    route: RouteSettings = field(default_factory=RouteSettings)
    client_address: ClientAddressSettings = field(default_factory=ClientAddressSettings)
    ringcentral: RingCentralSettings = field(default_factory=RingCentralSettings)
    pbx: PbxSettings = field(default_factory=PbxSettings)
    dry_run_as: str = "ringostat"
    # Providers that report a call's fate (RingCentral) are asked this often, this long.
    status_poll_interval: float = 5.0
    status_poll_for: float = 600.0
    events: EventSettings = field(default_factory=EventSettings)
    hours: HoursSettings = field(default_factory=HoursSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every ``CALLGATE_*`` variable; raise :class:`ConfigError`."""
        env = _Env(os.environ if environ is None else environ)
        provider = env.choice("PROVIDER", PROVIDERS, "dry-run")
        default_region = env.region("DEFAULT_REGION", "UA")
        ringostat = RingostatSettings(
            api_url=env.url("RINGOSTAT_API_URL", RingostatSettings.api_url),
            auth_key=env.secret("RINGOSTAT_AUTH_KEY"),
            project_id=env.text("RINGOSTAT_PROJECT_ID"),
            callee=env.text("RINGOSTAT_CALLEE"),
            callee_type=env.choice(
                "RINGOSTAT_CALLEE_TYPE", ("scheme", "default", "sip", "number"), "scheme"
            ),
            caller_type=env.choice(
                "RINGOSTAT_CALLER_TYPE", ("default", "sip", "number", "scheme"), "default"
            ),
            manager_dst=int(env.choice("RINGOSTAT_MANAGER_DST", ("0", "1"), "0")),
            direction=env.choice("RINGOSTAT_DIRECTION", ("out", "in"), "out"),
            extension=env.text("RINGOSTAT_EXTENSION"),
        )
        # Redis, when configured for the shared caches, holds the limits too: one budget for
        # every process without a second setting.
        ratelimit_storage_url = env.text(
            "RATELIMIT_STORAGE_URL", env.text("REDIS_URL", cls.ratelimit_storage_url)
        )
        ringcentral = RingCentralSettings(
            server_url=env.url("RINGCENTRAL_SERVER_URL", RingCentralSettings.server_url),
            client_id=env.text("RINGCENTRAL_CLIENT_ID"),
            client_secret=env.secret("RINGCENTRAL_CLIENT_SECRET"),
            jwt=env.secret("RINGCENTRAL_JWT"),
            from_number=env.e164("RINGCENTRAL_FROM"),
            caller_id=env.e164("RINGCENTRAL_CALLER_ID"),
            play_prompt=env.boolean("RINGCENTRAL_PLAY_PROMPT", False),
        )
        pbx = PbxSettings(
            url=env.optional_url("PBX_URL"),
            api_username=env.text("PBX_API_USERNAME"),
            api_password=env.secret("PBX_API_PASSWORD"),
            api_key=env.secret("PBX_API_KEY"),
            project_id=env.text("PBX_PROJECT_ID"),
            type=env.choice("PBX_TYPE", PBX_TYPES, "queue"),
            destination=env.text("PBX_DESTINATION"),
            outbound_number=env.text("PBX_OUTBOUND_NUMBER"),
            outbound_trunk=env.text("PBX_OUTBOUND_TRUNK"),
            caller_id_format=env.choice("PBX_CALLER_ID_FORMAT", PBX_NUMBER_FORMATS, "national"),
            home_region=default_region,
            default_caller_name=env.text(
                "PBX_DEFAULT_CALLER_NAME", PbxSettings.default_caller_name
            ),
            is_async=env.boolean("PBX_ASYNC", True),
            skip_welcome=env.optional_boolean("PBX_SKIP_WELCOME"),
            skip_we_are_recording=env.optional_boolean("PBX_SKIP_WE_ARE_RECORDING"),
            skip_enter_queue=env.optional_boolean("PBX_SKIP_ENTER_QUEUE"),
            backend_link=env.link_template("PBX_BACKEND_LINK"),
        )
        secret_key = env.secret("SECRET_KEY")
        if not secret_key:
            if provider != "dry-run":
                raise ConfigError(_name("SECRET_KEY"), "required unless CALLGATE_PROVIDER=dry-run")
            secret_key = _generated_secret(GENERATED_SECRET)
        captcha = env.choice("CAPTCHA", CAPTCHAS, "none")
        captcha_secret = env.secret("CAPTCHA_SECRET")
        if captcha != "none" and not captcha_secret:
            raise ConfigError(_name("CAPTCHA_SECRET"), f"required when CALLGATE_CAPTCHA={captcha}")
        captcha_site_key = env.text("CAPTCHA_SITE_KEY")
        # Without it the widget renders a CAPTCHA nobody can solve, and every post is refused.
        if captcha != "none" and not captcha_site_key:
            raise ConfigError(
                _name("CAPTCHA_SITE_KEY"), f"required when CALLGATE_CAPTCHA={captcha}"
            )
        settings = cls(
            provider=provider,
            database_url=env.text("DATABASE_URL", cls.database_url),
            ratelimit_storage_url=ratelimit_storage_url,
            allowed_origins=env.origins("ALLOWED_ORIGINS"),
            default_region=default_region,
            allowed_countries=env.regions("ALLOWED_COUNTRIES", (default_region,)),
            blocked_number_types=env.number_types("BLOCKED_NUMBER_TYPES"),
            trusted_proxies=env.integer("TRUSTED_PROXIES", 0, minimum=0, maximum=10),
            limit_per_ip=env.limit("LIMIT_PER_IP", cls.limit_per_ip),
            limit_per_phone=env.limit("LIMIT_PER_PHONE", cls.limit_per_phone),
            limit_global=env.limit("LIMIT_GLOBAL", cls.limit_global),
            limit_fallback_per_ip=env.limit("LIMIT_FALLBACK_PER_IP", cls.limit_fallback_per_ip),
            limit_fallback_per_phone=env.limit(
                "LIMIT_FALLBACK_PER_PHONE", cls.limit_fallback_per_phone
            ),
            limit_fallback_global=env.limit("LIMIT_FALLBACK_GLOBAL", cls.limit_fallback_global),
            dispatcher=env.choice("DISPATCHER", DISPATCHERS, "inline"),
            dispatch_threads=env.integer("DISPATCH_THREADS", 16, minimum=1, maximum=256),
            dispatch_lease=env.duration("DISPATCH_LEASE", "30s"),
            dispatch_poll=env.duration("DISPATCH_POLL", "1s"),
            max_attempts=env.integer("MAX_ATTEMPTS", 6, minimum=1, maximum=100),
            max_age=env.duration("MAX_AGE", "1h"),
            retry_base=env.duration("RETRY_BASE", "2s"),
            retry_cap=env.duration("RETRY_CAP", "5m"),
            dedupe_window=env.duration("DEDUPE_WINDOW", "10m"),
            blocklist_refresh=env.duration("BLOCKLIST_REFRESH", "5s"),
            provider_connect_timeout=env.duration("PROVIDER_CONNECT_TIMEOUT", "3.05s"),
            provider_read_timeout=env.duration("PROVIDER_READ_TIMEOUT", "10s"),
            secret_key=secret_key,
            log_level=env.choice(
                "LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", upper=True
            ),
            log_format=env.choice("LOG_FORMAT", LOG_FORMATS, "text"),
            blocked_prefixes=env.prefixes("BLOCKED_PREFIXES"),
            limit_per_country=env.limit("LIMIT_PER_COUNTRY", cls.limit_per_country),
            max_numbers_per_ip=env.integer("MAX_NUMBERS_PER_IP", 3, minimum=0, maximum=10**7),
            daily_call_budget=env.integer("DAILY_CALL_BUDGET", 1000, minimum=0, maximum=10**7),
            form_token_required=env.choice("FORM_TOKEN", ("required", "optional"), "required")
            == "required",
            form_token_min_age=env.duration("FORM_TOKEN_MIN_AGE", "2s"),
            form_token_max_age=env.duration("FORM_TOKEN_MAX_AGE", "4h"),
            captcha=captcha,
            captcha_secret=captcha_secret,
            captcha_site_key=captcha_site_key,
            captcha_verify_url=env.url("CAPTCHA_VERIFY_URL", CAPTCHA_VERIFY_URLS[captcha])
            if captcha != "none"
            else "",
            captcha_script_url=env.script_url("CAPTCHA_SCRIPT_URL", CAPTCHA_SCRIPT_URLS[captcha])
            if captcha != "none"
            else "",
            require_consent=env.boolean("REQUIRE_CONSENT", False),
            consent_version=env.text("CONSENT_VERSION", "1")[:32],
            bind=env.text("BIND", cls.bind),
            workers=_workers(env, ratelimit_storage_url),
            threads=env.integer("THREADS", 4, minimum=1, maximum=256),
            ringostat=ringostat,
            redis_url=env.redis_url("REDIS_URL", ratelimit_storage_url),
            agents=_agent_settings(env),
            schema=_schema_settings(env),
            route=_route_settings(env),
            client_address=_client_address_settings(env),
            ringcentral=ringcentral,
            pbx=pbx,
            dry_run_as=env.choice("DRY_RUN_AS", REAL_PROVIDERS, "ringostat"),
            status_poll_interval=env.duration("STATUS_POLL_INTERVAL", "5s"),
            status_poll_for=env.duration("STATUS_POLL_FOR", "10m"),
            events=_event_settings(env),
            hours=_hours_settings(env),
        )
        settings.check_provider()
        settings.check_agents()
        return settings

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
            if not value:
                raise ConfigError(_name(suffix), f"required when CALLGATE_PROVIDER={self.provider}")

    def check_agents(self) -> None:
        """Fail when agent status or routing is asked for without what it needs."""
        if self.agents.require_online and not self.ringostat.auth_key:
            raise ConfigError(
                _name("RINGOSTAT_AUTH_KEY"), "required when CALLGATE_REQUIRE_AGENT_ONLINE=true"
            )
        if self.agents.source != "sip":
            if not self.agents.smart_phone_token:
                raise ConfigError(
                    _name("RINGOSTAT_SMART_PHONE_TOKEN"),
                    f"required when CALLGATE_SIPSTATUS_SOURCE={self.agents.source}",
                )
            if not self.ringostat.project_id:
                raise ConfigError(
                    _name("RINGOSTAT_PROJECT_ID"),
                    f"required when CALLGATE_SIPSTATUS_SOURCE={self.agents.source}",
                )
        if self.agents.status_max_age < self.agents.status_ttl:
            raise ConfigError(
                _name("SIPSTATUS_MAX_AGE"), "must not be shorter than CALLGATE_SIPSTATUS_TTL"
            )

    def secret_values(self) -> tuple[str, ...]:
        """Every secret in force, so logs can redact them wherever they turn up."""
        values = [
            self.secret_key,
            self.ringostat.auth_key,
            self.captcha_secret,
            self.agents.smart_phone_token,
            self.route.token,
            self.ringcentral.client_secret,
            self.ringcentral.jwt,
            self.pbx.api_password,
            self.pbx.api_key,
            *self.events.secrets(),
        ]
        return tuple(v for v in values if v)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _name(suffix: str) -> str:
    return PREFIX + suffix


def _schema_settings(env: _Env) -> SchemaSettings:
    return SchemaSettings(auto_migrate=env.boolean("AUTO_MIGRATE", SchemaSettings.auto_migrate))


def default_workers(ratelimit_storage_url: str) -> int:
    """gunicorn worker processes unless ``CALLGATE_WORKERS`` says otherwise.

    In-memory limits are counted by each process on its own, so the embedded default runs one
    process (with threads); a shared storage lets several processes keep one budget.
    """
    return 1 if ratelimit_storage_url == IN_MEMORY_LIMITS else 2


def _workers(env: _Env, ratelimit_storage_url: str) -> int:
    default = default_workers(ratelimit_storage_url)
    workers = env.integer("WORKERS", default, minimum=1, maximum=64)
    if workers > 1 and ratelimit_storage_url == IN_MEMORY_LIMITS:
        raise ConfigError(
            _name("WORKERS"),
            f"{workers} worker processes with CALLGATE_RATELIMIT_STORAGE_URL={IN_MEMORY_LIMITS} "
            f"would each count every limit on their own ({workers} times the budget): run one "
            "worker (CALLGATE_WORKERS=1, more CALLGATE_THREADS) or give the limits a storage "
            "every process shares (CALLGATE_RATELIMIT_STORAGE_URL=redis://…)",
        )
    return workers


def _client_address_settings(env: _Env) -> ClientAddressSettings:
    return ClientAddressSettings(
        ipv6_prefix=env.integer("IPV6_PREFIX", ClientAddressSettings.ipv6_prefix, 32, 128),
    )


def _agent_settings(env: _Env) -> AgentSettings:
    return AgentSettings(
        logins=env.destinations("AGENT_LOGINS"),
        require_online=env.boolean("REQUIRE_AGENT_ONLINE", False),
        source=env.choice("SIPSTATUS_SOURCE", SIP_STATUS_SOURCES, "sip"),
        smart_phone_token=env.secret("RINGOSTAT_SMART_PHONE_TOKEN"),
        with_dnd=env.boolean("SIPSTATUS_WITH_DND", False),
        status_ttl=env.duration("SIPSTATUS_TTL", "5s"),
        status_max_age=env.duration("SIPSTATUS_MAX_AGE", "30s"),
        recheck_cap=env.duration("AGENT_RECHECK_CAP", "30s"),
    )


def _route_settings(env: _Env) -> RouteSettings:
    fallback = env.destinations("ROUTE_FALLBACK")
    if len(fallback) > 1:
        raise ConfigError(_name("ROUTE_FALLBACK"), "give one number or SIP login")
    key = env.text("ROUTE_RESPONSE_KEY", RouteSettings.response_key)
    if not re.match(r"^[A-Za-z0-9_.\-]{1,64}$", key):
        raise ConfigError(_name("ROUTE_RESPONSE_KEY"), f"{key!r} is not a JSON key like number_01")
    caller_param = env.text("ROUTE_CALLER_PARAM", RouteSettings.caller_param)
    if not re.match(r"^[A-Za-z0-9_\-]{1,64}$", caller_param):
        raise ConfigError(_name("ROUTE_CALLER_PARAM"), f"{caller_param!r} is not a parameter name")
    token = env.secret("ROUTE_TOKEN")
    if token and (len(token) < 16 or not re.match(r"^[A-Za-z0-9_\-]+$", token)):
        # It travels in a URL Ringostat stores: long, random, and URL-safe as it is.
        raise ConfigError(
            _name("ROUTE_TOKEN"), "use at least 16 letters, digits, '-' or '_' (not shown here)"
        )
    return RouteSettings(
        token=token,
        response=env.choice("ROUTE_RESPONSE", ROUTE_RESPONSES, "json"),
        response_key=key,
        caller_param=caller_param,
        fallback=fallback[0] if fallback else "",
        sticky_window=env.duration("STICKY_WINDOW", "24h"),
    )


def _event_settings(env: _Env) -> EventSettings:
    webhook_urls = env.outbound_urls("WEBHOOK_URL")
    webhook_secret = env.secret("WEBHOOK_SECRET")
    if webhook_secret:
        _check_webhook_secret(webhook_secret)
    elif webhook_urls:
        raise ConfigError(_name("WEBHOOK_SECRET"), "required when CALLGATE_WEBHOOK_URL is set")
    measurement_id = env.text("GA4_MEASUREMENT_ID").upper()
    if measurement_id and not re.fullmatch(r"G-[A-Z0-9]{4,20}", measurement_id):
        raise ConfigError(
            _name("GA4_MEASUREMENT_ID"), f"{measurement_id!r} is not a GA4 id like G-ABC123DEF4"
        )
    api_secret = env.secret("GA4_API_SECRET")
    if measurement_id and not api_secret:
        raise ConfigError(
            _name("GA4_API_SECRET"), "required when CALLGATE_GA4_MEASUREMENT_ID is set"
        )
    if api_secret and not measurement_id:
        raise ConfigError(
            _name("GA4_MEASUREMENT_ID"), "required when CALLGATE_GA4_API_SECRET is set"
        )
    return EventSettings(
        webhook_urls=webhook_urls,
        webhook_secret=webhook_secret,
        webhook_events=env.webhook_events("WEBHOOK_EVENTS"),
        notify_urls=env.apprise_urls("NOTIFY_URLS"),
        notify_on=env.kinds("NOTIFY_ON", NOTIFY_KINDS, DEFAULT_NOTIFY_ON),
        notify_lang=env.choice("NOTIFY_LANG", NOTIFY_LANGS, "en"),
        ga4_measurement_id=measurement_id,
        ga4_api_secret=api_secret,
        ga4_endpoint=env.outbound_url("GA4_ENDPOINT", GA4_ENDPOINT),
    )


def _check_webhook_secret(secret: str) -> None:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 24 to 64 random bytes."""
    problem = "must be whsec_ followed by base64 of 24 to 64 random bytes (value not shown)"
    if not secret.startswith("whsec_"):
        raise ConfigError(_name("WEBHOOK_SECRET"), problem)
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError:
        raise ConfigError(_name("WEBHOOK_SECRET"), problem) from None
    if not 24 <= len(key) <= 64:
        raise ConfigError(_name("WEBHOOK_SECRET"), problem)


def _hours_settings(env: _Env) -> HoursSettings:
    defaults = HoursSettings()
    return HoursSettings(
        timezone=env.parse("TIMEZONE", defaults.timezone, _zone_name),
        week=env.parse("OFFICE_HOURS", "", parse_week),
        holidays=env.parse("HOLIDAYS", "", parse_holidays),
        special=env.parse("SPECIAL_HOURS", "", parse_special_hours),
        slot_minutes=env.integer("SLOT_MINUTES", defaults.slot_minutes, minimum=1, maximum=1440),
        slot_capacity=env.integer(
            "SLOT_CAPACITY", defaults.slot_capacity, minimum=1, maximum=10**6
        ),
        schedule_days=env.integer("SCHEDULE_DAYS", defaults.schedule_days, minimum=0, maximum=366),
    )


def _zone_name(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text!r} is not an IANA time zone like Europe/Kyiv") from None
    return text


T = TypeVar("T")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str) -> float:
    """``"90s"``, ``"10m"``, ``"1.5h"``, ``"30d"`` or plain seconds -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 10m, 2h or 30d")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _loopback(host: str) -> bool:
    """Hosts browsers trust over plain http (no mixed-content block): localhost and loopback IPs."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Env:
    """Typed, validated reads of ``CALLGATE_*`` variables."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, suffix: str) -> str | None:
        value = self._environ.get(_name(suffix))
        return None if value is None or value.strip() == "" else value.strip()

    def _parse(self, suffix: str, default: str, parse: Callable[[str], T]) -> T:
        text = self.raw(suffix)
        try:
            return parse(default if text is None else text)
        except ValueError as exc:
            raise ConfigError(_name(suffix), str(exc)) from None

    def parse(self, suffix: str, default: str, parse: Callable[[str], T]) -> T:
        """The value read by ``parse``, whose ``ValueError`` names this variable."""
        return self._parse(suffix, default, parse)

    def text(self, suffix: str, default: str = "") -> str:
        return self.raw(suffix) or default

    def secret(self, suffix: str) -> str:
        direct = self.raw(suffix)
        path = self.raw(suffix + "_FILE")
        if direct and path:
            raise ConfigError(_name(suffix), f"set either it or {_name(suffix)}_FILE, not both")
        if path is None:
            return direct or ""
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                _name(suffix + "_FILE"), f"cannot read {path}: {exc.strerror}"
            ) from None

    def choice(
        self, suffix: str, options: tuple[str, ...], default: str, upper: bool = False
    ) -> str:
        def parse(text: str) -> str:
            value = text.upper() if upper else text.lower()
            if value not in options:
                raise ValueError(f"{text!r} is not one of {', '.join(options)}")
            return value

        return self._parse(suffix, default, parse)

    def integer(self, suffix: str, default: int, minimum: int, maximum: int) -> int:
        def parse(text: str) -> int:
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a whole number") from None
            if not minimum <= value <= maximum:
                raise ValueError(f"{value} is outside {minimum}..{maximum}")
            return value

        return self._parse(suffix, str(default), parse)

    def duration(self, suffix: str, default: str) -> float:
        return self._parse(suffix, default, parse_duration)

    def boolean(self, suffix: str, default: bool) -> bool:
        def parse(text: str) -> bool:
            value = text.lower()
            if value in ("1", "true", "yes", "on"):
                return True
            if value in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{text!r} is not true or false")

        return self._parse(suffix, "true" if default else "false", parse)

    def destinations(self, suffix: str) -> tuple[str, ...]:
        """Comma-separated numbers in international format or SIP logins."""
        return self._parse(suffix, "", lambda text: tuple(destination(p) for p in _items(text)))

    def redis_url(self, suffix: str, ratelimit_storage_url: str) -> str:
        """Its own value, else the rate-limit storage when that is a plain Redis URL."""

        def parse(text: str) -> str:
            if not re.match(r"^rediss?://", text):
                raise ValueError(f"{text!r} is not a redis:// or rediss:// URL")
            return text

        text = self.raw(suffix)
        if text is not None:
            return self._parse(suffix, "", lambda _: parse(text))
        return ratelimit_storage_url if re.match(r"^rediss?://", ratelimit_storage_url) else ""

    def limit(self, suffix: str, default: str) -> str:
        def parse(text: str) -> str:
            try:
                parsed = limits.parse_many(text)
            except ValueError:
                parsed = []
            if not parsed:
                raise ValueError(f"{text!r} is not a rate limit like '5/minute;30/day'")
            return text

        return self._parse(suffix, default, parse)

    def url(self, suffix: str, default: str) -> str:
        def parse(text: str) -> str:
            if not re.match(r"^https?://[^\s/]+", text):
                raise ValueError(f"{text!r} is not an http(s) URL")
            return text.rstrip("/")

        return self._parse(suffix, default, parse)

    def script_url(self, suffix: str, default: str) -> str:
        """An https URL for a script that customers' pages load; http only on loopback.

        An https page refuses an http script (mixed content), and customers' pages are https.
        """
        url = self.url(suffix, default)
        parts = urlsplit(url)
        if parts.scheme != "https" and not _loopback(parts.hostname or ""):
            raise ConfigError(
                _name(suffix), f"{url!r} must be https (http only on a loopback host)"
            )
        return url

    def outbound_url(self, suffix: str, default: str) -> str:
        """An https URL we send data to; plain http only on a loopback host (tests, sidecars).

        What we send carries visitors' numbers or secrets: never in clear over a network.
        """
        return self.script_url(suffix, default)

    def outbound_urls(self, suffix: str) -> tuple[str, ...]:
        """Comma-separated :meth:`outbound_url` values; empty when unset."""

        def parse(text: str) -> tuple[str, ...]:
            found = []
            for item in _items(text):
                if not re.match(r"^https?://[^\s/]+", item):
                    raise ValueError(f"{item!r} is not an http(s) URL")
                host = urlsplit(item).hostname or ""
                if not item.startswith("https://") and not _loopback(host):
                    raise ValueError(f"{item!r} must be https (http only on a loopback host)")
                found.append(item)
            return tuple(dict.fromkeys(found))

        return self._parse(suffix, "", parse)

    def apprise_urls(self, suffix: str) -> tuple[str, ...]:
        """Apprise URLs (``tgram://…``, ``mailtos://…``), split the way Apprise splits them.

        They hold tokens: a refusal names the item's position and scheme, never the URL.
        """
        text = self.secret(suffix)
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
                raise ConfigError(
                    _name(suffix),
                    f"item {position} ({scheme}://…) is not a URL Apprise supports "
                    "(value not shown)",
                )
        return urls

    def webhook_events(self, suffix: str) -> tuple[str, ...]:
        """Event types, with or without the ``lead.`` prefix; ``all`` or unset: every one."""

        def parse(text: str) -> tuple[str, ...]:
            if text.strip().lower() in ("", "all", "*"):
                return WEBHOOK_EVENTS
            found = []
            for item in _items(text.lower()):
                name = item if item.startswith("lead.") else f"lead.{item}"
                if name not in WEBHOOK_EVENTS:
                    raise ValueError(f"{item!r} is not one of {', '.join(WEBHOOK_EVENTS)}")
                found.append(name)
            return tuple(dict.fromkeys(found))

        return self._parse(suffix, "all", parse)

    def kinds(
        self, suffix: str, options: tuple[str, ...], default: tuple[str, ...]
    ) -> tuple[str, ...]:
        """A comma-separated subset of ``options``; ``none`` for nothing."""

        def parse(text: str) -> tuple[str, ...]:
            if text.strip().lower() == "none":
                return ()
            found = []
            for item in _items(text.lower()):
                if item not in options:
                    raise ValueError(f"{item!r} is not one of {', '.join(options)}")
                found.append(item)
            return tuple(dict.fromkeys(found))

        return self._parse(suffix, ",".join(default), parse)

    def optional_boolean(self, suffix: str) -> bool | None:
        """Unset stays None: the provider's own default applies."""
        return None if self.raw(suffix) is None else self.boolean(suffix, False)

    def e164(self, suffix: str) -> str:
        """An optional number that must already be in E.164 (``+`` and digits)."""

        def parse(text: str) -> str:
            if not text:
                return ""
            compact = re.sub(r"[\s().-]", "", text)
            try:
                number = phonenumbers.parse(compact, None)
            except phonenumbers.NumberParseException:
                number = None
            if number is None or not phonenumbers.is_possible_number(number):
                raise ValueError(f"{text!r} is not a number in E.164 form like +16505550100")
            return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

        return self._parse(suffix, "", parse)

    def link_template(self, suffix: str) -> str:
        """An optional http(s) URL template whose only placeholder is ``{lead_id}``."""

        def parse(text: str) -> str:
            if not text:
                return ""
            if not re.match(r"^https?://[^\s/]+", text):
                raise ValueError(f"{text!r} is not an http(s) URL")
            placeholders = set(re.findall(r"\{([^{}]*)\}", text))
            if placeholders - {"lead_id"}:
                raise ValueError("the only placeholder allowed is {lead_id}")
            return text

        return self._parse(suffix, "", parse)

    def optional_url(self, suffix: str) -> str:
        """An http(s) URL with no default: empty when unset."""
        return "" if self.raw(suffix) is None else self.url(suffix, "")

    def region(self, suffix: str, default: str) -> str:
        return self._parse(suffix, default, _region)

    def regions(self, suffix: str, default: tuple[str, ...]) -> tuple[str, ...]:
        return self._parse(
            suffix, ",".join(default), lambda text: tuple(_region(p) for p in _items(text))
        )

    def prefixes(self, suffix: str) -> tuple[str, ...]:
        def parse(text: str) -> tuple[str, ...]:
            found = []
            for item in _items(text):
                prefix = re.sub(r"[\s\-()]", "", item)
                if not re.fullmatch(r"\+\d{1,14}", prefix):
                    raise ValueError(f"{item!r} is not a number prefix like +3809 or +44 70")
                found.append(prefix)
            return tuple(found)

        return self._parse(suffix, "", parse)

    def origins(self, suffix: str) -> tuple[str, ...]:
        def parse(text: str) -> tuple[str, ...]:
            origins = []
            for item in _items(text):
                if not re.match(r"^https?://[^\s/]+$", item.rstrip("/")):
                    raise ValueError(f"{item!r} is not an origin like https://www.example.com")
                origins.append(item.rstrip("/").lower())
            return tuple(origins)

        return self._parse(suffix, "", parse)

    def number_types(self, suffix: str) -> tuple[str, ...]:
        def parse(text: str) -> tuple[str, ...]:
            names = tuple(p.lower().replace("_", "-") for p in _items(text))
            for name in names:
                if name not in NUMBER_TYPES:
                    raise ValueError(f"{name!r} is not one of {', '.join(NUMBER_TYPES)}")
            return names

        text = self._environ.get(_name(suffix))
        if text is None:
            return DEFAULT_BLOCKED_TYPES
        return self._parse(suffix, "", lambda _: parse(text))


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


def _items(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _region(text: str) -> str:
    code = text.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{text!r} is not an ISO 3166 country code that has phone numbers")
    return code
