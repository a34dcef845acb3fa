"""The notation of the office-hours settings, parsed into plain values (see docs/office-hours.md).

``CALLGATE_OFFICE_HOURS``   ``Mon-Fri 09:00-13:00,14:00-18:00; Sat 10:00-14:00``
``CALLGATE_SPECIAL_HOURS``  ``2026-12-31 09:00-14:00; 2027-01-02 closed``
``CALLGATE_HOLIDAYS``       ``UA``, ``US-CA``, ``2026-12-25,2027-01-01``, or both: ``UA,2026-12-31``

Times are local to the office (``CALLGATE_TIMEZONE``), to the minute; ``24:00`` may end a window.
Every parser raises :class:`ValueError` with a message that says what is wrong; the settings
module prefixes it with the variable's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES = {name.lower(): i for i, name in enumerate(WEEKDAYS)} | {
    full: i
    for i, full in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}
MINUTES_PER_DAY = 24 * 60
CLOSED = "closed"

_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The days are what comes before the first time (or "closed"): "Mon, Wed 09:00-12:00".
_DAYS_AND_TIMES = re.compile(r"^(\D+?)\s+((?:\d|closed\b).*)$", re.IGNORECASE)
_COUNTRY = re.compile(r"^([A-Za-z]{2,3})(?:-(.+))?$")


@dataclass(frozen=True, order=True)
class Window:
    """Open from ``start`` to ``end``, in minutes after local midnight; ``end`` may be 1440."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{clock(self.start)}-{clock(self.end)}"


# The windows of one day, sorted, neither overlapping nor touching; () is closed.
Day = tuple[Window, ...]
# Monday first, as date.weekday() counts.
Week = tuple[Day, Day, Day, Day, Day, Day, Day]

ALWAYS_OPEN: Week = ((Window(0, MINUTES_PER_DAY),),) * 7


@dataclass(frozen=True)
class HolidayRule:
    """Closed days: a country (and subdivision) of the ``holidays`` package, and dates."""

    country: str = ""
    subdivision: str = ""
    dates: tuple[date, ...] = ()


def clock(minutes: int) -> str:
    """``540`` -> ``"09:00"``; ``1440`` -> ``"24:00"``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_week(text: str) -> Week:
    """``CALLGATE_OFFICE_HOURS``; empty means always open. Days not named are closed."""
    if not text.strip():
        return ALWAYS_OPEN
    days: list[Day | None] = [None] * 7
    for entry in _entries(text):
        match = _DAYS_AND_TIMES.match(entry)
        if not match:
            raise ValueError(f"{entry!r} needs days and times, like 'Mon-Fri 09:00-18:00'")
        windows = parse_windows(match.group(2))
        for index in _weekdays(match.group(1)):
            if days[index] is not None:
                raise ValueError(f"{WEEKDAYS[index]} is given more than once")
            days[index] = windows
    if not any(days):
        raise ValueError("no day has hours; leave it empty for always open")
    return tuple(day or () for day in days)  # type: ignore[return-value]


def parse_windows(text: str) -> Day:
    """``09:00-13:00,14:00-18:00`` or ``closed``: sorted, touching windows joined."""
    if text.strip().lower() == CLOSED:
        return ()
    windows = sorted(_window(item) for item in _items(text, "times"))
    joined: list[Window] = []
    for window in windows:
        if joined and window.start < joined[-1].end:
            raise ValueError(f"{joined[-1]} and {window} overlap")
        if joined and window.start == joined[-1].end:
            joined[-1] = Window(joined[-1].start, window.end)
        else:
            joined.append(window)
    return tuple(joined)


def parse_special_hours(text: str) -> tuple[tuple[date, Day], ...]:
    """``CALLGATE_SPECIAL_HOURS``: ``2026-12-31 09:00-14:00; 2027-01-02 closed``, by date."""
    found: dict[date, Day] = {}
    for entry in _entries(text):
        parts = entry.split(None, 1)
        if len(parts) != 2:
            raise ValueError(f"{entry!r} needs a date and times, like '2026-12-31 09:00-14:00'")
        day = _date(parts[0])
        if day in found:
            raise ValueError(f"{day} is given more than once")
        found[day] = parse_windows(parts[1])
    return tuple(sorted(found.items()))


def parse_holidays(text: str) -> HolidayRule:
    """``CALLGATE_HOLIDAYS``: comma-separated dates and at most one country code.

    A country is an ISO 3166 code the ``holidays`` package knows, optionally followed by ``-``
    and one of its subdivisions for that country (``US-CA``, ``GB-SCT``, ``DE-BY``).
    """
    country = subdivision = ""
    dates: set[date] = set()
    for item in _items(text, "holidays", allow_empty=True):
        if _DATE.match(item):
            dates.add(_date(item))
            continue
        if country:
            raise ValueError(f"give one country, not {country} and {item}")
        country, subdivision = _country(item)
    return HolidayRule(country, subdivision, tuple(sorted(dates)))


def _country(item: str) -> tuple[str, str]:
    # Imported here: it takes a while, and most offices name no country.
    import holidays

    match = _COUNTRY.match(item)
    try:
        if not match:
            raise NotImplementedError
        code = match.group(1).upper()
        subdivisions: tuple[str, ...] = holidays.country_holidays(code).subdivisions
    except NotImplementedError:
        raise ValueError(
            f"{item!r} is neither a date like 2026-12-25 nor a country code the holidays "
            "package knows (like UA or US-CA)"
        ) from None
    wanted = (match.group(2) or "").strip()
    if not wanted:
        return code, ""
    for name in subdivisions:
        if name.lower() == wanted.lower():
            return code, name
    known = ", ".join(subdivisions) or "none"
    raise ValueError(f"{code} has no subdivision {wanted!r} (it has: {known})")


def _weekdays(text: str) -> list[int]:
    """``Mon-Fri``, ``Sat``, ``Mon,Wed,Fri``, ``Fri-Mon`` (wraps past Sunday)."""
    found: list[int] = []
    for item in _items(text, "days"):
        first, _, last = item.partition("-")
        start = _weekday(first)
        end = _weekday(last) if last else start
        found.extend((start + i) % 7 for i in range((end - start) % 7 + 1))
    return found


def _weekday(text: str) -> int:
    index = _DAY_NAMES.get(text.strip().lower())
    if index is None:
        raise ValueError(f"{text.strip()!r} is not a day; use {', '.join(WEEKDAYS)}")
    return index


def _window(text: str) -> Window:
    first, dash, last = text.partition("-")
    if not dash:
        raise ValueError(f"{text!r} is not a time range like 09:00-18:00")
    start, end = _minutes(first), _minutes(last)
    if start >= MINUTES_PER_DAY:
        raise ValueError(f"{text!r} starts at 24:00; a window starts by 23:59")
    if end <= start:
        raise ValueError(
            f"{text!r} ends before it starts; split a night across two days "
            "(Fri 22:00-24:00; Sat 00:00-02:00)"
        )
    return Window(start, end)


def _minutes(text: str) -> int:
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"{text.strip()!r} is not a time like 09:00")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"{text.strip()!r} is not a time between 00:00 and 24:00")
    return hours * 60 + minutes


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a date like 2026-12-31") from None


def _entries(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def _items(text: str, what: str, allow_empty: bool = False) -> list[str]:
    items = [part.strip() for part in text.split(",")]
    if any(not item for item in items) and not (allow_empty and not text.strip()):
        raise ValueError(f"an empty item in the {what} {text.strip()!r}")
    return [item for item in items if item]
