"""``callgate hours`` on a controlled clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from click.testing import CliRunner

from service.cli import main

KYIV = ZoneInfo("Europe/Kyiv")
ENV = {
    "CALLGATE_OFFICE_HOURS": "Mon-Fri 09:00-13:00,14:00-18:00; Sat 10:00-14:00",
    "CALLGATE_HOLIDAYS": "2026-12-25",
    "CALLGATE_SPECIAL_HOURS": "2026-12-24 09:00-12:00; 2026-12-31 closed",
}


def test_hours_prints_the_week_with_holidays_special_hours_and_the_next_opening() -> None:
    # Thursday 24 December 2026, 12:30 in Kyiv: closed early for the day.
    with time_machine.travel(datetime(2026, 12, 24, 12, 30, tzinfo=KYIV), tick=False):
        result = CliRunner().invoke(main, ["hours"], env=ENV)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Office hours in Europe/Kyiv (now Thu 2026-12-24 12:30 EET (UTC+02:00)):",
        "  Thu 2026-12-24  09:00-12:00 (special hours)  <- today",
        "  Fri 2026-12-25  closed (holiday)",
        "  Sat 2026-12-26  10:00-14:00",
        "  Sun 2026-12-27  closed",
        "  Mon 2026-12-28  09:00-13:00, 14:00-18:00",
        "  Tue 2026-12-29  09:00-13:00, 14:00-18:00",
        "  Wed 2026-12-30  09:00-13:00, 14:00-18:00",
        "Now closed. Next opening: Sat 2026-12-26 10:00 EET (UTC+02:00).",
        "Slots of 15 min, 10 calls each, bookable today and 7 days ahead.",
    ]


def test_hours_names_a_holiday_of_the_holidays_package() -> None:
    env = {"CALLGATE_TIMEZONE": "America/Los_Angeles", "CALLGATE_HOLIDAYS": "US-CA"}
    pacific = ZoneInfo("America/Los_Angeles")
    with time_machine.travel(datetime(2026, 3, 31, 12, 0, tzinfo=pacific), tick=False):
        result = CliRunner().invoke(main, ["hours", "--from", "2026-03-31"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  Tue 2026-03-31  closed (holiday: Cesar Chavez Day)  <- today" in lines
    assert "Now closed. Next opening: Wed 2026-04-01 00:00 PDT (UTC-07:00)." in result.output


def test_hours_stops_on_a_malformed_setting_naming_it() -> None:
    result = CliRunner().invoke(main, ["hours"], env={"CALLGATE_OFFICE_HOURS": "Mon 9-18"})
    assert result.exit_code == 2
    assert "CALLGATE_OFFICE_HOURS: '9' is not a time like 09:00" in result.output
