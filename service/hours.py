"""When the office is open, and which slots a call may be booked into (docs/office-hours.md).

Pure: no Flask, no store, no clock of its own (every question takes the instant it is about).
Answers are aware datetimes in the office's zone (``CALLGATE_TIMEZONE``).

Local times become instants like this, which is what matters on daylight-saving days:

- A window runs from the first instant whose local time reaches its start to the first instant
  whose local time reaches its end. A start that does not exist (spring forward: in Europe/Kyiv
  03:00-03:59 on the last Sunday of March) opens at the change, 04:00 EEST.
- A slot is a local time on the grid of its window (start, start + slot, ...). One that does not
  exist is skipped. One that exists twice (fall back: 03:00-03:59 on the last Sunday of October)
  is offered once and means its first occurrence, the one with the summer offset (+03:00); the
  repeated hour has no slots of its own.

Mind Python with those answers: two datetimes of the same zone are compared and subtracted by
their local times, and one in a repeated hour never equals a datetime of another zone. Convert
to UTC before arithmetic, comparison or use as a key (the store keeps UTC).

Bookings are counted by the caller (the store): ``booked`` is a mapping or a callable from a
slot's start, as a UTC datetime, to the calls booked into it.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .config import HoursSettings
from .hours_syntax import ALWAYS_OPEN, Day, HolidayRule, Week

if TYPE_CHECKING:
    from holidays import HolidayBase

# Bookings per slot start (UTC): a mapping, or a callable the store answers.
BookedCounts = Mapping[datetime, int] | Callable[[datetime], int]
# Bookings of the slots that start in [start, end): what /api/v1/slots asks the store for.
BookingsBetween = Callable[[datetime, datetime], BookedCounts]
# Due times of the calls booked in [start, end), read by the store under its bookings lock.
DueTimes = Callable[[datetime, datetime], Sequence[datetime]]
# Given the bookings, when a call is due: None for now (see service.leads.booking).
Plan = Callable[[DueTimes], datetime | None]

# The name of a date closed by CALLGATE_HOLIDAYS itself (the package's have their own names).
LISTED_HOLIDAY = "holiday"
# How far next_opening looks before it says "never" (a year of holidays, and some).
SEARCH_DAYS = 400


class CallAtProblem(StrEnum):
    """Why a requested ``call_at`` cannot be booked; the values are the API's problem codes."""

    INVALID = "call_at_invalid"  # no offset, or not the start of a slot
    PAST = "call_at_past"  # its slot has ended
    CLOSED = "call_at_closed"  # outside office hours, or a closed day
    TOO_FAR = "call_at_too_far"  # beyond today + CALLGATE_SCHEDULE_DAYS
    FULL = "call_at_full"  # CALLGATE_SLOT_CAPACITY calls already booked into it


class SlotFull(Exception):
    """The chosen slot has no room left (``call_at_full``); nothing was stored."""


@dataclass(frozen=True)
class DayHours:
    """One local date: the windows in force, and why they differ from the week's."""

    day: date
    windows: Day  # () when closed
    holiday: str | None = None  # the holiday closing it (special hours win over holidays)
    special: bool = False  # set by CALLGATE_SPECIAL_HOURS


@dataclass(frozen=True)
class Slot:
    """A bookable slot and the calls it may still take."""

    start: datetime
    remaining: int


def booked_in_slots(due_times: Sequence[datetime], slot: timedelta) -> Callable[[datetime], int]:
    """Bookings per slot from the due times of the calls booked (the store's pending
    ``place_call`` tasks): the calls due in ``[start, start + slot)``, looked up by a slot's
    UTC start. A call moved or retried within a slot still counts in it."""
    ordered = sorted(_utc(due) for due in due_times)

    def count(start: datetime) -> int:
        begin = _utc(start)
        return bisect_left(ordered, begin + slot) - bisect_left(ordered, begin)

    return count


class HolidayCalendar:
    """Closed days: the ``holidays`` package's for a country, and explicit dates."""

    def __init__(self, rule: HolidayRule) -> None:
        self.closes_any_day = bool(rule.country or rule.dates)
        self._dates = frozenset(rule.dates)
        self._country: HolidayBase | None = None
        if rule.country:
            # Imported here: it takes a while, and most offices name no country.
            import holidays

            country = holidays.country_holidays(rule.country, subdiv=rule.subdivision or None)
            if "en_US" in country.supported_languages:
                country = holidays.country_holidays(
                    rule.country, subdiv=rule.subdivision or None, language="en_US"
                )
            self._country = country
        # The package fills in a year on first lookup: one writer at a time.
        self._lock = threading.Lock()

    def name(self, day: date) -> str | None:
        """The holiday's name when ``day`` is closed for one, else None."""
        if self._country is not None:
            with self._lock:
                found = self._country.get(day)
            if found:
                return str(found)
        return LISTED_HOLIDAY if day in self._dates else None


class OfficeHours:
    """The office's hours as a value: open or not, next opening, slots, booking checks."""

    def __init__(
        self,
        zone: ZoneInfo,
        week: Week,
        calendar: HolidayCalendar,
        special: Mapping[date, Day],
        slot_minutes: int,
        capacity: int,
        schedule_days: int,
    ) -> None:
        self.zone = zone
        self.weekly = week
        self.calendar = calendar
        self.special = dict(special)
        self.slot_minutes = slot_minutes
        self.slot = timedelta(minutes=slot_minutes)
        self.capacity = capacity
        self.schedule_days = schedule_days
        # Nothing ever closes it (the default): no need to look 400 days ahead for an opening.
        self._never_closes = (
            week == ALWAYS_OPEN
            and not calendar.closes_any_day
            and all(day == ALWAYS_OPEN[0] for day in self.special.values())
        )
        self._periods = lru_cache(maxsize=2048)(self._day_periods)
        self._slots = lru_cache(maxsize=512)(self._day_slots)

    @classmethod
    def from_settings(cls, settings: HoursSettings) -> OfficeHours:
        """Build from ``Settings.hours`` (already validated)."""
        return cls(
            zone=ZoneInfo(settings.timezone),
            week=settings.week,
            calendar=HolidayCalendar(settings.holidays),
            special=dict(settings.special),
            slot_minutes=settings.slot_minutes,
            capacity=settings.slot_capacity,
            schedule_days=settings.schedule_days,
        )

    @property
    def closes(self) -> bool:
        """Whether office hours are configured at all (anything ever closes the office)."""
        return not self._never_closes

    @property
    def timezone(self) -> str:
        """The office zone's IANA name."""
        return self.zone.key

    def day(self, day: date) -> DayHours:
        """What is in force on a local date: special hours, else closed for a holiday, else
        the week's."""
        if day in self.special:
            return DayHours(day, self.special[day], special=True)
        holiday = self.calendar.name(day)
        if holiday is not None:
            return DayHours(day, (), holiday=holiday)
        return DayHours(day, self.weekly[day.weekday()])

    def week(self, start: date) -> list[DayHours]:
        """Seven local dates from ``start``, for ``callgate hours``."""
        return [self.day(start + timedelta(days=i)) for i in range(7)]

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` (aware) falls inside a window."""
        moment = _utc(at)
        day = self._local(at).date()
        return any(
            start <= moment < end
            for offset in (-1, 0, 1)
            for start, end in self._periods(day + timedelta(days=offset))
        )

    def next_opening(self, after: datetime) -> datetime | None:
        """The first instant at or after ``after`` when the office opens (was closed just
        before). While open, that is the next opening after this one closes. None when it
        never closes, or never opens, within :data:`SEARCH_DAYS`."""
        moment = _utc(after)
        if self._never_closes:
            return None
        first = self._local(after).date() - timedelta(days=1)
        for start, _ in self._merged(first, first + timedelta(days=SEARCH_DAYS)):
            if start >= moment:
                return start.astimezone(self.zone)
        return None

    def slots(self, start: datetime, days: int) -> list[datetime]:
        """Slot starts at or after ``start`` through the end of local date
        ``start``'s date + ``days``, in the office zone, inside windows only."""
        moment = _utc(start)
        first = self._local(start).date()
        return [
            slot.astimezone(self.zone)
            for offset in range(days + 1)
            for slot in self._slots(first + timedelta(days=offset))
            if slot >= moment
        ]

    def horizon(self, now: datetime) -> datetime:
        """The first instant a visitor may no longer book: the end of today + schedule days."""
        last = self._local(now).date() + timedelta(days=self.schedule_days)
        return self._instant(last + timedelta(days=1), 0).astimezone(self.zone)

    def open_slots(self, now: datetime, booked: BookedCounts) -> list[Slot]:
        """Slots a visitor may book now: from ``now`` over the horizon, with room left."""
        count = _counter(booked)
        found = []
        for start in self.slots(now, self.schedule_days):
            remaining = self.capacity - count(start)
            if remaining > 0:
                found.append(Slot(start, remaining))
        return found

    def validate_call_at(
        self, call_at: datetime, now: datetime, booked: BookedCounts
    ) -> CallAtProblem | None:
        """None when ``call_at`` may be booked, else why not.

        It must be a slot's start exactly (any offset naming the same instant): times between
        slots are refused as invalid, never moved. A slot may be booked until it ends, so a
        visitor who chose the current slot a moment ago is not refused; it is dialled at once.
        """
        if call_at.tzinfo is None or call_at.utcoffset() is None:
            return CallAtProblem.INVALID
        try:
            moment = _utc(call_at)
            ends = moment + self.slot
        except OverflowError:  # year 1 or 9999: no such instant in UTC, or no slot after it
            return CallAtProblem.PAST if call_at.year < now.year else CallAtProblem.TOO_FAR
        if ends <= _utc(now):
            return CallAtProblem.PAST
        if moment >= _utc(self.horizon(now)):
            return CallAtProblem.TOO_FAR
        if not self.is_open(call_at):
            return CallAtProblem.CLOSED
        slot = self.slot_at(call_at)
        if slot is None:
            return CallAtProblem.INVALID
        if _counter(booked)(slot) >= self.capacity:
            return CallAtProblem.FULL
        return None

    def slot_at(self, at: datetime) -> datetime | None:
        """The slot starting at exactly the instant ``at``, in the office zone, or None."""
        moment = _utc(at)
        if moment in self._slots(self._local(at).date()):
            return moment.astimezone(self.zone)
        return None

    def schedule(self, now: datetime, booked: BookedCounts) -> datetime | None:
        """When a lead with no ``call_at`` is to be called: None while open (now), else the
        slot :meth:`spread` gives from the next opening. For a lead as it arrives, and again
        for a call that falls due, since the hours may have changed meanwhile.

        None too when the office is closed and opens on none of the next :data:`SEARCH_DAYS`
        (a closed day for every one of them): better called now than never.
        """
        if self.is_open(now):
            return None
        opening = self.next_opening(now)
        return None if opening is None else self.spread(opening, booked)

    def spread(self, opening: datetime, booked: BookedCounts) -> datetime:
        """The slot a lead that arrived while closed is scheduled for: the first from
        ``opening`` with room left, so the opening is not a burst of calls.

        A lead is never refused for want of room: when every slot over the horizon is full,
        it gets the first one anyway (overbooked). ``opening`` is what :meth:`next_opening`
        said; with no slot after it, it is returned as it is.
        """
        count = _counter(booked)
        candidates = self.slots(opening, self.schedule_days)
        for slot in candidates:
            if count(slot) < self.capacity:
                return slot
        return candidates[0] if candidates else opening

    # -- local time to instants ------------------------------------------------------------
    # Internally every instant is UTC: Python compares and subtracts two datetimes of the same
    # zone by their local times, which is wrong across a change of offset.

    def _local(self, at: datetime) -> datetime:
        return _utc(at).astimezone(self.zone)

    def _day_periods(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's windows as UTC instants, [start, end)."""
        periods = []
        for window in self.day(day).windows:
            start = _utc(self._instant(day, window.start))
            end = _utc(self._instant(day, window.end))
            if start < end:  # both inside one skipped hour: nothing left
                periods.append((start, end))
        return tuple(periods)

    def _merged(self, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
        """Open periods (UTC) from ``first`` to ``last``, joined where one ends as the next
        starts (Mon 00:00-24:00 and Tue 00:00-… are one period: Tuesday midnight is no
        opening)."""
        current: tuple[datetime, datetime] | None = None
        day = first
        while day <= last:
            for start, end in self._periods(day):
                if current is not None and start <= current[1]:
                    current = (current[0], max(end, current[1]))
                    continue
                if current is not None:
                    yield current
                current = (start, end)
            day += timedelta(days=1)
        if current is not None:
            yield current

    def _day_slots(self, day: date) -> tuple[datetime, ...]:
        """The day's slot starts (UTC): the grid of each window, skipping local times that do
        not exist, and taking the first occurrence of those that exist twice."""
        found = []
        step = self.slot // timedelta(minutes=1)
        for window in self.day(day).windows:
            for minute in range(window.start, window.end, step):
                local = self._wall(day, minute)
                if _exists(local, self.zone) and self.is_open(local):
                    found.append(_utc(local))
        return tuple(found)

    def _wall(self, day: date, minute: int) -> datetime:
        """Local ``day`` + ``minute`` in the office zone, fold 0 (first occurrence)."""
        naive = datetime.combine(day, time()) + timedelta(minutes=minute)
        return naive.replace(tzinfo=self.zone)

    def _instant(self, day: date, minute: int) -> datetime:
        """The first instant whose local time reaches ``day`` + ``minute``."""
        local = self._wall(day, minute)
        if _exists(local, self.zone):
            return local
        # In a skipped hour: the first instant past it is the change itself. fold=1 reads
        # the time with the later offset (an instant before the change), fold=0 with the
        # earlier one (after it); the change lies between, found to the second.
        wanted = local.replace(tzinfo=None)
        low = int(local.replace(fold=1).timestamp())
        high = int(local.timestamp())
        while high - low > 1:
            middle = (low + high) // 2
            if _wall_of(datetime.fromtimestamp(middle, UTC), self.zone) >= wanted:
                high = middle
            else:
                low = middle
        return datetime.fromtimestamp(high, self.zone)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("an aware datetime is needed (with an offset or a zone)")
    return at.astimezone(UTC)


def _exists(local: datetime, zone: ZoneInfo) -> bool:
    """Whether a zoned local time happens (is not skipped by a change of offset)."""
    return _wall_of(local, zone) == local.replace(tzinfo=None, fold=0)


def _wall_of(at: datetime, zone: ZoneInfo) -> datetime:
    """The local time on the office's clock at instant ``at``. Through UTC: astimezone() to
    the zone a datetime already has returns it unchanged, skipped hour or not."""
    return at.astimezone(UTC).astimezone(zone).replace(tzinfo=None, fold=0)


def _counter(booked: BookedCounts) -> Callable[[datetime], int]:
    """Bookings of a slot, looked up by its UTC start.

    Mapping keys are compared in UTC: Python never finds an aware datetime equal to one in
    another zone when either falls in a repeated hour, so zoned keys would miss.
    """
    if isinstance(booked, Mapping):
        by_utc = {_utc(key): value for key, value in booked.items()}
        return lambda slot: by_utc.get(_utc(slot), 0)
    return lambda slot: booked(_utc(slot))


# -- plans: a slot decided from the bookings read under the store's bookings lock -------------


def booking_plan(hours: OfficeHours, slot: datetime | None, moment: datetime) -> Plan | None:
    """How a call is booked at ``moment``: into ``slot`` (the visitor's ``call_at``;
    :class:`SlotFull` when it has no room left), else, while the office is closed, into the
    slot :meth:`OfficeHours.schedule` spreads it to. None while open with no ``call_at``: the
    call is placed now, and the store takes no bookings lock."""
    if slot is not None:
        chosen = slot

        def into_slot(booked: DueTimes) -> datetime | None:
            count = booked_in_slots(booked(chosen, chosen + hours.slot), hours.slot)
            if count(chosen) >= hours.capacity:
                raise SlotFull(chosen.isoformat())
            return chosen

        return into_slot
    if hours.is_open(moment):
        return None

    def at_opening(booked: DueTimes) -> datetime | None:
        # The spread looks from the opening over the booking horizon (a holiday may put the
        # opening days away).
        opening = hours.next_opening(moment) or moment
        counts = booked_in_slots(booked(moment, hours.horizon(opening)), hours.slot)
        return hours.schedule(moment, counts)

    return at_opening


def release_plan(hours: OfficeHours) -> Callable[[datetime], Plan]:
    """How a held lead is booked when an operator releases it, for the time its visitor chose:
    that slot, or the first after it with room (a release is never refused for want of room;
    hours changed since: the first open slot after it)."""

    def plan_for(chosen: datetime) -> Plan:
        def into_slot_or_next(booked: DueTimes) -> datetime | None:
            counts = booked_in_slots(booked(chosen, hours.horizon(chosen)), hours.slot)
            return hours.spread(chosen, counts)

        return into_slot_or_next

    return plan_for
