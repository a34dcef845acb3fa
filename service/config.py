"""Settings, read once from ``CALLGATE_*`` environment variables and validated.

Every variable the service reads is declared here and nowhere else. A missing or malformed value
raises :class:`ConfigError` whose message starts with the variable's name, so start-up can stop
with one readable line instead of a traceback. Any secret ``X`` may also come as ``X_FILE``: a
path whose content is the value (Docker and Kubernetes secrets).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import limits
import phonenumbers

PREFIX = "CALLGATE_"

PROVIDERS = ("dry-run", "ringostat", "ringostat-simple")
DISPATCHERS = ("inline", "external")

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
class Settings:
    """Everything configurable. Tests build it directly; production uses :meth:`from_env`."""

    provider: str = "dry-run"
    database_url: str = "sqlite:///var/callgate.db"
    ratelimit_storage_url: str = "memory://"
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
    dispatch_threads: int = 8
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
    bind: str = "127.0.0.1:8000"
    workers: int = 2
    threads: int = 4
    ringostat: RingostatSettings = field(default_factory=RingostatSettings)

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
        secret_key = env.secret("SECRET_KEY")
        if not secret_key:
            if provider != "dry-run":
                raise ConfigError(_name("SECRET_KEY"), "required unless CALLGATE_PROVIDER=dry-run")
            # Embedded default only: form tokens last as long as the process.
            secret_key = secrets.token_urlsafe(32)
        settings = cls(
            provider=provider,
            database_url=env.text("DATABASE_URL", cls.database_url),
            ratelimit_storage_url=env.text("RATELIMIT_STORAGE_URL", cls.ratelimit_storage_url),
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
            dispatch_threads=env.integer("DISPATCH_THREADS", 8, minimum=1, maximum=256),
            dispatch_lease=env.duration("DISPATCH_LEASE", "30s"),
            dispatch_poll=env.duration("DISPATCH_POLL", "1s"),
            max_attempts=env.integer("MAX_ATTEMPTS", 6, minimum=1, maximum=100),
            max_age=env.duration("MAX_AGE", "1h"),
            retry_base=env.duration("RETRY_BASE", "2s"),
            retry_cap=env.duration("RETRY_CAP", "5m"),
            dedupe_window=env.duration("DEDUPE_WINDOW", "10m"),
            provider_connect_timeout=env.duration("PROVIDER_CONNECT_TIMEOUT", "3.05s"),
            provider_read_timeout=env.duration("PROVIDER_READ_TIMEOUT", "10s"),
            secret_key=secret_key,
            log_level=env.choice(
                "LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", upper=True
            ),
            bind=env.text("BIND", cls.bind),
            workers=env.integer("WORKERS", 2, minimum=1, maximum=64),
            threads=env.integer("THREADS", 4, minimum=1, maximum=256),
            ringostat=ringostat,
        )
        settings.check_provider()
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
        }
        for suffix, value in required.get(self.provider, ()):
            if not value:
                raise ConfigError(_name(suffix), f"required when CALLGATE_PROVIDER={self.provider}")

    def secret_values(self) -> tuple[str, ...]:
        """Every secret in force, so logs can redact them wherever they turn up."""
        values = [self.secret_key, self.ringostat.auth_key]
        return tuple(v for v in values if v)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _name(suffix: str) -> str:
    return PREFIX + suffix


T = TypeVar("T")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str) -> float:
    """``"90s"``, ``"10m"``, ``"1.5h"``, ``"30d"`` or plain seconds -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 10m, 2h or 30d")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


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

    def region(self, suffix: str, default: str) -> str:
        return self._parse(suffix, default, _region)

    def regions(self, suffix: str, default: tuple[str, ...]) -> tuple[str, ...]:
        return self._parse(
            suffix, ",".join(default), lambda text: tuple(_region(p) for p in _items(text))
        )

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


def _items(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _region(text: str) -> str:
    code = text.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{text!r} is not an ISO 3166 country code that has phone numbers")
    return code
