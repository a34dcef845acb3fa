"""The office-hours settings: read, defaulted, and refused with the variable named."""

from __future__ import annotations

from datetime import date

import pytest

from service.config import ConfigError, HoursSettings, Settings
from service.hours_syntax import ALWAYS_OPEN, HolidayRule, Window


def test_defaults_are_always_open_in_kyiv() -> None:
    hours = Settings.from_env({}).hours
    assert hours == HoursSettings()
    assert hours.timezone == "Europe/Kyiv" and hours.week == ALWAYS_OPEN
    assert (hours.slot_minutes, hours.slot_capacity, hours.schedule_days) == (15, 10, 7)
    assert Settings().hours == HoursSettings()  # tests that build Settings(...) get them too


def test_every_hours_setting_is_read() -> None:
    hours = Settings.from_env(
        {
            "CALLGATE_TIMEZONE": "America/Los_Angeles",
            "CALLGATE_OFFICE_HOURS": "mon-fri 09:00-13:00, 14:00-18:00 ;Sat 10:00-14:00",
            "CALLGATE_HOLIDAYS": "us-ca, 2026-12-24",
            "CALLGATE_SPECIAL_HOURS": "2026-12-31 09:00-14:00; 2027-01-02 closed",
            "CALLGATE_SLOT_MINUTES": "30",
            "CALLGATE_SLOT_CAPACITY": "4",
            "CALLGATE_SCHEDULE_DAYS": "14",
        }
    ).hours
    weekday = (Window(9 * 60, 13 * 60), Window(14 * 60, 18 * 60))
    assert hours.timezone == "America/Los_Angeles"
    assert hours.week == (weekday,) * 5 + ((Window(600, 840),), ())
    assert hours.holidays == HolidayRule("US", "CA", (date(2026, 12, 24),))
    assert hours.special == (
        (date(2026, 12, 31), (Window(540, 840),)),
        (date(2027, 1, 2), ()),
    )
    assert (hours.slot_minutes, hours.slot_capacity, hours.schedule_days) == (30, 4, 14)


def test_touching_windows_join_and_24_00_ends_a_day() -> None:
    hours = Settings.from_env(
        {"CALLGATE_OFFICE_HOURS": "Fri-Mon 09:00-13:00,13:00-24:00; Wed, thu 00:00-01:30"}
    ).hours
    # Fri-Mon wraps past Sunday.
    assert hours.week[4] == hours.week[5] == hours.week[6] == hours.week[0] == (Window(540, 1440),)
    assert hours.week[2] == hours.week[3] == (Window(0, 90),)
    assert hours.week[1] == ()


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("CALLGATE_TIMEZONE", "Europe/Atlantis", "not an IANA time zone"),
        ("CALLGATE_TIMEZONE", "../../etc/passwd", "not an IANA time zone"),
        ("CALLGATE_OFFICE_HOURS", "Mon-Fri 9-18", "'9' is not a time like 09:00"),
        ("CALLGATE_OFFICE_HOURS", "Mon-Fri", "needs days and times"),
        ("CALLGATE_OFFICE_HOURS", "Mo-Fr 09:00-18:00", "'Mo' is not a day"),
        ("CALLGATE_OFFICE_HOURS", "Mon 22:00-02:00", "ends before it starts"),
        ("CALLGATE_OFFICE_HOURS", "Mon 09:00-13:00,12:00-18:00", "overlap"),
        ("CALLGATE_OFFICE_HOURS", "Mon-Fri 09:00-18:00; Fri 10:00-12:00", "Fri is given more"),
        ("CALLGATE_OFFICE_HOURS", "Mon 09:00-24:30", "between 00:00 and 24:00"),
        ("CALLGATE_OFFICE_HOURS", "Mon 09:60-10:00", "between 00:00 and 24:00"),
        ("CALLGATE_OFFICE_HOURS", "Mon 09:00-18:00,", "an empty item"),
        ("CALLGATE_OFFICE_HOURS", "Mon-Sun closed", "no day has hours"),
        ("CALLGATE_HOLIDAYS", "Atlantis", "country code the holidays package knows"),
        ("CALLGATE_HOLIDAYS", "US-XX", "US has no subdivision 'XX'"),
        ("CALLGATE_HOLIDAYS", "UA,PL", "give one country"),
        ("CALLGATE_HOLIDAYS", "2026-02-30", "not a date"),
        ("CALLGATE_SPECIAL_HOURS", "2026-12-31", "needs a date and times"),
        ("CALLGATE_SPECIAL_HOURS", "31.12.2026 09:00-14:00", "not a date like 2026-12-31"),
        ("CALLGATE_SPECIAL_HOURS", "2026-12-31 closed; 2026-12-31 09:00-10:00", "more than once"),
        ("CALLGATE_SLOT_MINUTES", "0", "outside 1..1440"),
        ("CALLGATE_SLOT_CAPACITY", "ten", "not a whole number"),
        ("CALLGATE_SCHEDULE_DAYS", "-1", "outside 0..366"),
    ],
)
def test_a_malformed_value_stops_start_up_naming_the_variable(
    variable: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({variable: value})
    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"{variable}: ") and problem in str(raised.value)
