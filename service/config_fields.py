"""The machinery behind :mod:`service.config`: how one ``CALLGATE_*`` variable is declared, read
(with ``X_FILE`` for secrets), parsed and refused.

A setting is a pydantic field made by :func:`setting`: its type annotation carries the parser
(the ``Annotated`` types below), its ``Field`` the variable's name, default, bounds, secrecy and
one line of documentation. :class:`EnvironmentSource` is the pydantic-settings source that reads
them; :func:`config_error` turns pydantic's first complaint into one line naming the variable.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import annotated_types
import limits
import phonenumbers
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

from .destinations import destination

PREFIX = "CALLGATE_"
T = TypeVar("T")


class ConfigError(ValueError):
    """A setting is missing or malformed; ``str()`` names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def setting(
    env: str,
    default: Any,
    doc: str,
    *,
    secret: bool = False,
    section: str = "",
    shown: str = "",
    blank_is_empty: bool = False,
    from_file: bool = False,
    **bounds: Any,
) -> Any:
    """Declare ``CALLGATE_<env>``: its default (as one writes it in the environment), one line
    of documentation, whether it is a secret (redacted from logs, ``_FILE`` accepted, never
    shown), the docs ``section`` it opens, how the docs ``shown`` its default when that is
    derived, whether a blank value means "empty" rather than "the default", whether a value
    that is not a secret may still come as ``X_FILE`` (``from_file``), and ``ge``/``le``.
    """
    extra = {
        "secret": secret,
        "section": section,
        "shown": shown,
        "blank": blank_is_empty,
        "file": secret or from_file,
    }
    return Field(
        default,
        validation_alias=PREFIX + env,
        description=doc,
        repr=not secret,
        json_schema_extra=extra,  # type: ignore[arg-type]
        **bounds,
    )


class Group(BaseModel):
    """A frozen group of settings; tests build it by attribute name."""

    model_config = ConfigDict(
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        validate_default=True,
        arbitrary_types_allowed=True,
        extra="forbid",
    )


@dataclass(frozen=True)
class Declared:
    """One declared variable: where it lives in :class:`Settings` and its ``Field``."""

    path: tuple[str, ...]  # attribute names from Settings down to the value
    name: str  # CALLGATE_...
    field: FieldInfo

    def option(self, key: str) -> Any:
        extra = self.field.json_schema_extra
        return extra.get(key) if isinstance(extra, dict) else None

    @property
    def secret(self) -> bool:
        return bool(self.option("secret"))


def declarations(model: type[BaseModel], path: tuple[str, ...] = ()) -> Iterator[Declared]:
    """Every declared variable of ``model`` and its groups, in declaration order."""
    for attribute, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, Group):
            yield from declarations(annotation, (*path, attribute))
        elif isinstance(info.validation_alias, str):
            yield Declared((*path, attribute), info.validation_alias, info)


# The environment being read by Settings.from_env; unset, Settings(...) reads nothing.
ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("callgate_environ", default=None)


class EnvironmentSource(PydanticBaseSettingsSource):
    """Declared variables from :data:`ENVIRON`, nested like the groups; secrets also ``_FILE``.

    Values are stripped and a blank one counts as unset (the declared default applies).
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads everything at once

    def __call__(self) -> dict[str, Any]:
        environ = ENVIRON.get()
        values: dict[str, Any] = {}
        if environ is None:
            return values
        for declared in declarations(self.settings_cls):
            raw = _read(environ, declared)
            if raw is not None:
                target = values
                for attribute in declared.path[:-1]:
                    target = target.setdefault(attribute, {})
                target[declared.name] = raw
        return values


def _read(environ: Mapping[str, str], declared: Declared) -> str | None:
    name = declared.name
    text = environ.get(name, "").strip()
    if declared.option("file"):
        path = environ.get(name + "_FILE", "").strip()
        if text and path:
            raise ConfigError(name, f"set either it or {name}_FILE, not both")
        if path:
            try:
                return Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{name}_FILE", f"cannot read {path}: {exc.strerror}") from None
    if text:
        return text
    return "" if declared.option("blank") and name in environ else None


def config_error(error: ValidationError, model: type[BaseModel]) -> ConfigError:
    """pydantic's first complaint as one line naming the variable; never a secret's value."""
    found = error.errors()[0]
    loc = tuple(str(p) for p in found["loc"])
    declared = next((d for d in declarations(model) if d.name == loc[-1] or d.path == loc), None)
    name = declared.name if declared else ".".join(loc)
    value = found.get("input")
    kind = found["type"]
    if kind == "value_error":
        problem = str(found["ctx"]["error"])
    elif kind == "int_parsing":
        problem = f"{value!r} is not a whole number"
    elif kind == "bool_parsing":
        problem = f"{value!r} is not true or false"
    elif kind in ("greater_than_equal", "less_than_equal") and declared:
        low, high = _bounds(declared.field)
        problem = f"{value} is outside {low}..{high}"
    else:
        problem = found["msg"]
    if declared and declared.secret and isinstance(value, str) and value and value in problem:
        problem = problem.replace(value, "(value not shown)")
    return ConfigError(name, problem)


def _bounds(field: FieldInfo) -> tuple[Any, Any]:
    low = next((m.ge for m in field.metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
    return low, high


def bounds(field: FieldInfo) -> tuple[Any, Any]:
    """A declared number's ``ge`` and ``le`` (None where unbounded)."""
    return _bounds(field)


# ---- parsers: each takes the text of a variable (or, from tests, the value itself) ----


@dataclass(frozen=True)
class OneOf:
    """One of ``options``, compared without regard to case."""

    options: tuple[str, ...]
    upper: bool = False

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.upper() if self.upper else value.lower()
        if text not in self.options:
            raise ValueError(f"{value!r} is not one of {', '.join(self.options)}")
        return text


def text_only(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    """``parse`` for text; a value that is already parsed (tests build groups) passes."""
    return lambda value: parse(value) if isinstance(value, str) else value


def items(text: str) -> list[str]:
    """The non-empty, stripped items of a comma-separated list."""
    return [p.strip() for p in text.split(",") if p.strip()]


def _networks(value: Any) -> Any:
    """Comma-separated addresses or CIDR networks (``10.0.0.0/8``, ``::1``); ``none``: none."""
    if not isinstance(value, str):
        return value
    if value.strip().lower() == "none":
        return ()
    try:
        return tuple(str(ipaddress.ip_network(p, strict=False)) for p in items(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a list of addresses or networks") from None


def each(parse: Callable[[str], str], unique: bool = False) -> Callable[[Any], Any]:
    """A comma-separated list (or a tuple), each item read by ``parse``."""

    def read(value: Any) -> Any:
        found = [parse(p) for p in (items(value) if isinstance(value, str) else value)]
        return tuple(dict.fromkeys(found)) if unique else tuple(found)

    return read


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
LONGEST_DURATION = 36525 * 86400  # seconds (a hundred years): no date is much further away


def parse_duration(text: str) -> float:
    """``"90s"``, ``"10m"``, ``"1.5h"``, ``"30d"`` or plain seconds -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 10m, 2h or 30d")
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if not seconds <= LONGEST_DURATION:  # also inf and nan: no date is that far away
        raise ValueError(f"{text!r} is longer than {LONGEST_DURATION / _DURATION_UNITS['d']:.0f}d")
    return seconds


def _limit(text: str) -> str:
    try:
        parsed = limits.parse_many(text)
    except ValueError:
        parsed = []
    if not parsed:
        raise ValueError(f"{text!r} is not a rate limit like '5/minute;30/day'")
    return text


def _url(text: str) -> str:
    if not re.match(r"^https?://[^\s/]+", text):
        raise ValueError(f"{text!r} is not an http(s) URL")
    parts = urlsplit(text)
    try:
        port = parts.port  # raises for a port that is no number, or above 65535
    except ValueError:
        port = 0
    if port == 0:  # the host only: the rest of a URL may hold a token
        raise ValueError(f"the URL of host {parts.hostname!r} has no valid port (1-65535)")
    return text.rstrip("/")


def loopback(host: str) -> bool:
    """Hosts browsers trust over plain http (no mixed-content block): localhost and loopback IPs."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _https_url(text: str) -> str:
    """https; plain http only on a loopback host. Scripts customers' https pages load (an http
    one is blocked as mixed content), and URLs we send numbers or secrets to."""
    url = _url(text)
    if urlsplit(url).scheme != "https" and not loopback(urlsplit(url).hostname or ""):
        raise ValueError(f"{url!r} must be https (http only on a loopback host)")
    return url


def _optional(parse: Callable[[str], str]) -> Callable[[str], str]:
    return lambda text: parse(text) if text else ""


def _e164(text: str) -> str:
    compact = re.sub(r"[\s().-]", "", text)
    try:
        number = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise ValueError(f"{text!r} is not a number in E.164 form like +16505550100")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _link_template(text: str) -> str:
    _url(text)
    if set(re.findall(r"\{([^{}]*)\}", text)) - {"lead_id"}:
        raise ValueError("the only placeholder allowed is {lead_id}")
    return text


def region(text: str) -> str:
    """An ISO 3166 code that has phone numbers, upper-case."""
    code = text.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{text!r} is not an ISO 3166 country code that has phone numbers")
    return code


def _prefix(item: str) -> str:
    prefix = re.sub(r"[\s\-()]", "", item)
    if not re.fullmatch(r"\+\d{1,14}", prefix):
        raise ValueError(f"{item!r} is not a number prefix like +3809 or +44 70")
    return prefix


def _origin(item: str) -> str:
    if not re.match(r"^https?://[^\s/]+$", item.rstrip("/")):
        raise ValueError(f"{item!r} is not an origin like https://www.example.com")
    return item.rstrip("/").lower()


def _redis_url(text: str) -> str:
    if text and not re.match(r"^rediss?://", text):
        raise ValueError(f"{text!r} is not a redis:// or rediss:// URL")
    return text


def zone_name(text: str) -> str:
    """An IANA time zone name."""
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text!r} is not an IANA time zone like Europe/Kyiv") from None
    return text


def matching(pattern: str, what: str, show: bool = True) -> Callable[[str], str]:
    """Text matching ``pattern`` whole; else "is not ``what``" (the value only when ``show``)."""

    def read(text: str) -> str:
        if text and not re.fullmatch(pattern, text):
            raise ValueError(f"{text!r} is not {what}" if show else f"{what} (value not shown)")
        return text

    return read


def parsed(parse: Callable[[str], Any]) -> BeforeValidator:
    """``Annotated[T, parsed(f)]``: the variable's text is read by ``f`` (a ``ValueError``
    becomes the variable's one-line error)."""
    return BeforeValidator(text_only(parse))


Text = str
Duration = Annotated[float, parsed(parse_duration)]
Limit = Annotated[str, parsed(_limit)]
Url = Annotated[str, parsed(_url)]
OptionalUrl = Annotated[str, parsed(_optional(_url))]
HttpsUrl = Annotated[str, parsed(_https_url)]
OptionalHttpsUrl = Annotated[str, parsed(_optional(_https_url))]
HttpsUrls = Annotated[tuple[str, ...], BeforeValidator(each(_https_url, unique=True))]
E164 = Annotated[str, parsed(_optional(_e164))]
LinkTemplate = Annotated[str, parsed(_optional(_link_template))]
Region = Annotated[str, parsed(region)]
Regions = Annotated[tuple[str, ...], BeforeValidator(each(region))]
Prefixes = Annotated[tuple[str, ...], BeforeValidator(each(_prefix))]
Origins = Annotated[tuple[str, ...], BeforeValidator(each(_origin))]
Destinations = Annotated[tuple[str, ...], BeforeValidator(each(destination))]
Networks = Annotated[tuple[str, ...], BeforeValidator(_networks)]
RedisUrl = Annotated[str, parsed(_redis_url)]
Zone = Annotated[str, parsed(zone_name)]


def choice(options: Iterable[str], upper: bool = False) -> BeforeValidator:
    """``Annotated[str, choice(...)]``: one of ``options``; the docs list them."""
    return BeforeValidator(OneOf(tuple(options), upper))


def subset(
    options: tuple[str, ...],
    every: tuple[str, ...] = ("all", "*"),
    prefix: str = "",
    none: bool = True,
) -> BeforeValidator:
    """A comma-separated subset of ``options`` (``prefix`` optional on each item); a word of
    ``every`` means all of them and, if ``none``, ``none`` means none."""

    def read(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value.strip().lower() in every:
            return options
        if none and value.strip().lower() == "none":
            return ()
        found = []
        for item in items(value.lower()):
            name = item if item.startswith(prefix) else prefix + item
            if name not in options:
                raise ValueError(f"{item!r} is not one of {', '.join(options)}")
            found.append(name)
        return tuple(dict.fromkeys(found))

    return BeforeValidator(read)
