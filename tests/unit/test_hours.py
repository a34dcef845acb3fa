"""OfficeHours with explicit instants: windows, closed days, daylight saving, slots, bookings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.config import HoursSettings
from service.hours import CallAtProblem, OfficeHours, booked_in_slots
from service.hours_syntax import parse_holidays, parse_special_hours, parse_week

KYIV = ZoneInfo("Europe/Kyiv")
EMPTY: dict[datetime, int] = {}


def office(
    hours: str = "Mon-Fri 09:00-18:00",
    *,
    timezone: str = "Europe/Kyiv",
    holidays: str = "",
    special: str = "",
    slot_minutes: int = 15,
    capacity: int = 10,
    days: int = 7,
) -> OfficeHours:
    return OfficeHours.from_settings(
        HoursSettings(
            timezone=timezone,
            week=parse_week(hours),
            holidays=parse_holidays(holidays),
            special=parse_special_hours(special),
            slot_minutes=slot_minutes,
            slot_capacity=capacity,
            schedule_days=days,
        )
    )


def kyiv(*args: int) -> datetime:
    return datetime(*args, tzinfo=KYIV)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def iso(moments: list[datetime]) -> list[str]:
    return [m.isoformat() for m in moments]


# 2026-11-30 is a Monday.


def test_open_from_the_start_of_a_window_until_its_end() -> None:
    hours = office()
    assert not hours.is_open(kyiv(2026, 11, 30, 8, 59, 59))
    assert hours.is_open(kyiv(2026, 11, 30, 9, 0))
    assert hours.is_open(kyiv(2026, 11, 30, 17, 59, 59))
    assert not hours.is_open(kyiv(2026, 11, 30, 18, 0))
    assert not hours.is_open(kyiv(2026, 12, 5, 12, 0))  # Saturday: not named, closed
    # Any offset naming the same instant: 07:00Z is 09:00 in Kyiv in winter.
    assert hours.is_open(utc(2026, 11, 30, 7, 0))


def test_empty_office_hours_mean_always_open() -> None:
    hours = office("")
    assert hours.is_open(kyiv(2026, 12, 6, 3, 0))
    assert hours.next_opening(kyiv(2026, 12, 6, 3, 0)) is None
    assert OfficeHours.from_settings(HoursSettings()).is_open(utc(2026, 10, 25, 1, 30))
    # Closed on one date only: it opens at the next midnight, and never again after it.
    christmas = office("", holidays="2026-12-25")
    assert not christmas.is_open(kyiv(2026, 12, 25, 12, 0))
    assert christmas.next_opening(kyiv(2026, 12, 24, 12, 0)) == kyiv(2026, 12, 26, 0, 0)
    assert christmas.next_opening(kyiv(2026, 12, 26, 0, 1)) is None


def test_next_opening_from_closed_and_from_open() -> None:
    hours = office("Mon-Fri 09:00-18:00; Sat 10:00-14:00")
    friday_night = kyiv(2026, 12, 4, 23, 40)
    assert hours.next_opening(friday_night) == kyiv(2026, 12, 5, 10, 0)
    assert hours.next_opening(kyiv(2026, 12, 5, 14, 0)) == kyiv(2026, 12, 7, 9, 0)
    # At the opening itself, that opening; while open, the next one.
    assert hours.next_opening(kyiv(2026, 11, 30, 9, 0)) == kyiv(2026, 11, 30, 9, 0)
    assert hours.next_opening(kyiv(2026, 11, 30, 9, 1)) == kyiv(2026, 12, 1, 9, 0)


def test_two_windows_a_day() -> None:
    hours = office("Mon-Fri 09:00-13:00,14:00-18:00")
    assert hours.is_open(kyiv(2026, 11, 30, 12, 59))
    assert not hours.is_open(kyiv(2026, 11, 30, 13, 30))
    assert hours.next_opening(kyiv(2026, 11, 30, 13, 0)) == kyiv(2026, 11, 30, 14, 0)
    day = hours.slots(kyiv(2026, 11, 30, 12, 30), 0)
    assert iso(day[:4]) == [
        "2026-11-30T12:30:00+02:00",
        "2026-11-30T12:45:00+02:00",
        "2026-11-30T14:00:00+02:00",
        "2026-11-30T14:15:00+02:00",
    ]
    assert day[-1] == kyiv(2026, 11, 30, 17, 45)


def test_a_window_ending_at_24_00_runs_into_the_next_days_window() -> None:
    hours = office("Fri 20:00-24:00; Sat 00:00-02:00")
    assert hours.is_open(kyiv(2026, 12, 4, 23, 59, 59))
    assert hours.is_open(kyiv(2026, 12, 5, 0, 0))
    assert not hours.is_open(kyiv(2026, 12, 5, 2, 0))
    # Midnight is no opening: the night is one period, and the next one starts a week later.
    assert hours.next_opening(kyiv(2026, 12, 4, 21, 0)) == kyiv(2026, 12, 11, 20, 0)
    slots = hours.slots(kyiv(2026, 12, 4, 23, 30), 1)
    assert iso(slots[:4]) == [
        "2026-12-04T23:30:00+02:00",
        "2026-12-04T23:45:00+02:00",
        "2026-12-05T00:00:00+02:00",
        "2026-12-05T00:15:00+02:00",
    ]
    assert office("Mon-Sun 00:00-24:00").next_opening(kyiv(2026, 12, 4, 21, 0)) is None


# Europe/Kyiv: 2026-03-29 at 03:00 EET clocks go to 04:00 EEST (03:00-03:59 does not exist);
# 2026-10-25 at 04:00 EEST they go back to 03:00 EET (03:00-03:59 happens twice).


def test_spring_forward_skips_the_slots_that_do_not_exist() -> None:
    hours = office("Sun 00:00-24:00")
    day = hours.slots(kyiv(2026, 3, 29, 0, 0), 0)
    assert len(day) == 96 - 4
    after_two = [s for s in day if s.hour in (2, 3, 4)]
    assert iso(after_two[2:6]) == [
        "2026-03-29T02:30:00+02:00",
        "2026-03-29T02:45:00+02:00",
        "2026-03-29T04:00:00+03:00",
        "2026-03-29T04:15:00+03:00",
    ]
    # 02:45 EET and 04:00 EEST are fifteen real minutes apart.
    assert after_two[4].astimezone(UTC) - after_two[3].astimezone(UTC) == timedelta(minutes=15)


def test_a_window_starting_in_the_skipped_hour_opens_at_the_change() -> None:
    hours = office("Sun 03:30-05:00")
    assert hours.next_opening(kyiv(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 0)
    assert not hours.is_open(utc(2026, 3, 29, 0, 59, 59))
    assert hours.is_open(utc(2026, 3, 29, 1, 0))  # 04:00 EEST
    assert hours.slots(kyiv(2026, 3, 29, 0, 0), 0)[0].isoformat() == "2026-03-29T04:00:00+03:00"


def test_fall_back_offers_a_repeated_slot_once_as_its_first_occurrence() -> None:
    hours = office("Sun 00:00-24:00")
    day = hours.slots(kyiv(2026, 10, 25, 0, 0), 0)
    assert len(day) == 96  # one per local quarter hour, though the day has 25 hours
    assert len({s.strftime("%H:%M") for s in day}) == 96
    threes = [s for s in day if s.hour == 3]
    assert iso(threes) == [
        "2026-10-25T03:00:00+03:00",
        "2026-10-25T03:15:00+03:00",
        "2026-10-25T03:30:00+03:00",
        "2026-10-25T03:45:00+03:00",
    ]
    now = kyiv(2026, 10, 24, 12, 0)
    first, second = utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 1, 0)  # both 03:00 local
    assert hours.validate_call_at(first, now, EMPTY) is None
    # The second 03:00 is open, but is no slot of its own.
    assert hours.is_open(second)
    assert hours.validate_call_at(second, now, EMPTY) is CallAtProblem.INVALID
    found = hours.slot_at(datetime.fromisoformat("2026-10-25T03:00:00+03:00"))
    # Compared in UTC: Python finds no zoned time in a repeated hour equal to a UTC one.
    assert found is not None and found.astimezone(UTC) == first and found != first


def test_a_repeated_slot_is_booked_by_its_utc_start() -> None:
    hours = office("Sun 00:00-24:00", capacity=1)
    first_three = utc(2026, 10, 25, 0, 0)
    now = kyiv(2026, 10, 24, 12, 0)
    # A zoned key in the repeated hour never equals a UTC one in Python: counted all the same.
    zoned = {first_three.astimezone(KYIV): 1}
    assert hours.validate_call_at(first_three, now, zoned) is CallAtProblem.FULL
    assert hours.spread(first_three, zoned).astimezone(UTC) == utc(2026, 10, 25, 0, 15)


def test_a_holiday_from_the_holidays_package_with_a_subdivision() -> None:
    # Cesar Chavez Day (31 March) is a holiday in California, not in the United States at large.
    california = office(timezone="America/Los_Angeles", holidays="US-CA")
    pacific = ZoneInfo("America/Los_Angeles")
    noon = datetime(2026, 3, 31, 12, 0, tzinfo=pacific)
    assert not california.is_open(noon)
    assert california.day(date(2026, 3, 31)).holiday == "Cesar Chavez Day"
    assert california.next_opening(noon) == datetime(2026, 4, 1, 9, 0, tzinfo=pacific)
    assert office(timezone="America/Los_Angeles", holidays="US").is_open(noon)


def test_ukraine_in_the_holidays_package_before_and_under_martial_law() -> None:
    hours = office(holidays="UA")
    # Independence Day 2021 (a Tuesday) was a day off...
    assert hours.day(date(2021, 8, 24)).holiday == "Independence Day"
    assert not hours.is_open(kyiv(2021, 8, 24, 12, 0))
    assert hours.next_opening(kyiv(2021, 8, 23, 19, 0)) == kyiv(2021, 8, 25, 9, 0)
    # ...and under martial law the package lists no public holidays: 24 August 2026 (a Monday)
    # is a working day. Offices that close anyway list the date (see docs/office-hours.md).
    assert hours.is_open(kyiv(2026, 8, 24, 12, 0))
    assert not office(holidays="UA,2026-08-24").is_open(kyiv(2026, 8, 24, 12, 0))


def test_explicit_dates_are_closed() -> None:
    hours = office(holidays="2026-12-25,2027-01-01")
    assert not hours.is_open(kyiv(2026, 12, 25, 12, 0))
    assert hours.day(date(2026, 12, 25)).holiday == "holiday"
    assert hours.next_opening(kyiv(2026, 12, 24, 19, 0)) == kyiv(2026, 12, 28, 9, 0)


def test_special_hours_replace_the_days_hours_and_win_over_a_holiday() -> None:
    hours = office(
        holidays="2026-12-31",
        special="2026-12-31 09:00-14:00; 2027-01-02 10:00-12:00; 2026-12-30 closed",
    )
    assert hours.is_open(kyiv(2026, 12, 31, 13, 59))
    assert not hours.is_open(kyiv(2026, 12, 31, 14, 0))
    assert not hours.is_open(kyiv(2026, 12, 30, 12, 0))  # a Wednesday, closed for the day
    assert hours.is_open(kyiv(2027, 1, 2, 11, 0))  # a Saturday, open for the day
    day = hours.day(date(2026, 12, 31))
    assert day.special and day.holiday is None
    assert hours.slots(kyiv(2026, 12, 31, 0, 0), 0)[-1] == kyiv(2026, 12, 31, 13, 45)


def test_spread_gives_the_first_slot_with_room_left() -> None:
    hours = office(capacity=2)
    opening = kyiv(2026, 11, 30, 9, 0)
    assert hours.spread(opening, EMPTY) == opening
    booked = {kyiv(2026, 11, 30, 9, 0): 2, kyiv(2026, 11, 30, 9, 15): 1}
    assert hours.spread(opening, booked) == kyiv(2026, 11, 30, 9, 15)
    booked[kyiv(2026, 11, 30, 9, 15)] = 2
    assert hours.spread(opening, booked) == kyiv(2026, 11, 30, 9, 30)
    # A callable is asked with UTC starts, as a store would be.
    asked: list[datetime] = []

    def count(slot: datetime) -> int:
        asked.append(slot)
        return 2 if slot < utc(2026, 11, 30, 8, 0) else 0

    assert hours.spread(opening, count) == kyiv(2026, 11, 30, 10, 0)
    assert all(slot.tzinfo is UTC for slot in asked)


def test_schedule_calls_now_while_open_else_spreads_from_the_next_opening() -> None:
    hours = office(capacity=1)
    booked = {kyiv(2026, 12, 7, 9, 0): 1}
    assert hours.schedule(kyiv(2026, 12, 4, 17, 59), booked) is None  # Friday, open
    # Friday 23:40: Monday's first slot is taken, the lead gets the next.
    assert hours.schedule(kyiv(2026, 12, 4, 23, 40), booked) == kyiv(2026, 12, 7, 9, 15)
    # A call due while closed (the hours changed since it was scheduled) moves the same way.
    assert hours.schedule(kyiv(2026, 12, 5, 10, 0), EMPTY) == kyiv(2026, 12, 7, 9, 0)


def test_spread_overbooks_the_first_slot_rather_than_lose_a_lead() -> None:
    hours = office(capacity=1, days=0)
    opening = kyiv(2026, 11, 30, 9, 0)
    assert hours.spread(opening, lambda slot: 1) == opening


def test_open_slots_carry_what_room_remains_and_stop_at_the_horizon() -> None:
    hours = office(capacity=3, days=1)
    now = kyiv(2026, 11, 30, 17, 20)
    booked = {kyiv(2026, 11, 30, 17, 30): 3, kyiv(2026, 11, 30, 17, 45): 1}
    slots = hours.open_slots(now, booked)
    assert [(s.start.isoformat(), s.remaining) for s in slots[:2]] == [
        ("2026-11-30T17:45:00+02:00", 2),
        ("2026-12-01T09:00:00+02:00", 3),
    ]
    assert slots[-1].start == kyiv(2026, 12, 1, 17, 45)  # today and one more day
    assert len(slots) == 1 + 36
    assert hours.open_slots(now, booked_in_slots([], hours.slot))[0].remaining == 3


def test_bookings_are_counted_per_slot_from_the_due_times_in_it() -> None:
    hours = office(capacity=3, days=1)
    dues = [
        kyiv(2026, 11, 30, 17, 45),
        kyiv(2026, 11, 30, 17, 45),
        kyiv(2026, 11, 30, 17, 52),  # a call moved or retried within the slot still counts
        kyiv(2026, 12, 1, 9, 0).astimezone(UTC),  # any zone: compared as instants
    ]
    count = booked_in_slots(dues, hours.slot)
    assert count(kyiv(2026, 11, 30, 17, 45)) == 3
    assert count(kyiv(2026, 11, 30, 17, 30)) == 0
    assert count(kyiv(2026, 12, 1, 9, 0)) == 1
    slots = hours.open_slots(kyiv(2026, 11, 30, 17, 40), count)  # 17:45 is full
    assert slots[0].start == kyiv(2026, 12, 1, 9, 0) and slots[0].remaining == 2


@pytest.mark.parametrize(
    ("call_at", "problem"),
    [
        (kyiv(2026, 11, 30, 10, 0), None),
        (datetime.fromisoformat("2026-11-30T08:00:00Z"), None),  # 10:00 in Kyiv
        (kyiv(2026, 11, 30, 9, 0), None),  # the current slot, until it ends
        (datetime(2026, 11, 30, 10, 0), CallAtProblem.INVALID),  # no offset
        (kyiv(2026, 11, 30, 10, 5), CallAtProblem.INVALID),  # between slots: never moved
        (kyiv(2026, 11, 30, 10, 0, 30), CallAtProblem.INVALID),
        (kyiv(2026, 11, 30, 8, 45), CallAtProblem.PAST),
        (kyiv(2026, 11, 29, 10, 0), CallAtProblem.PAST),
        (kyiv(2026, 11, 30, 19, 0), CallAtProblem.CLOSED),
        (kyiv(2026, 12, 5, 10, 0), CallAtProblem.CLOSED),  # Saturday
        (kyiv(2026, 12, 7, 17, 45), None),  # the last day of the horizon
        (kyiv(2026, 12, 8, 9, 0), CallAtProblem.TOO_FAR),
        (kyiv(2026, 11, 30, 11, 0), CallAtProblem.FULL),
    ],
)
def test_validate_call_at(call_at: datetime, problem: CallAtProblem | None) -> None:
    hours = office(capacity=2)
    now = kyiv(2026, 11, 30, 9, 10)
    booked = {kyiv(2026, 11, 30, 11, 0): 2, kyiv(2026, 11, 30, 10, 0): 1}
    assert hours.validate_call_at(call_at, now, booked) is problem


def test_week_marks_holidays_and_special_hours() -> None:
    hours = office(holidays="2026-12-25", special="2026-12-24 09:00-12:00")
    week = hours.week(date(2026, 12, 21))
    assert [d.day for d in week] == [date(2026, 12, 21) + timedelta(days=i) for i in range(7)]
    assert week[3].special and [str(w) for w in week[3].windows] == ["09:00-12:00"]
    assert week[4].holiday == "holiday" and week[4].windows == ()
    assert week[5].windows == () and week[5].holiday is None  # Saturday


KYIV_2026 = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(
    after=KYIV_2026,
    hours=st.sampled_from(
        ["Sun 03:30-05:00", "Mon-Sun 02:00-03:45", "Fri 20:00-24:00; Sat 00:00-02:00"]
    ),
)
def test_next_opening_is_a_change_from_closed_to_open(after: datetime, hours: str) -> None:
    office_hours = office(hours)
    opening = office_hours.next_opening(after)
    assert opening is not None and opening >= after
    assert office_hours.is_open(opening)
    # In UTC: arithmetic on a zoned datetime moves its local time, not the instant.
    assert not office_hours.is_open(opening.astimezone(UTC) - timedelta(seconds=1))
    for slot in office_hours.slots(after, 1):
        assert office_hours.is_open(slot) and office_hours.slot_at(slot) == slot
