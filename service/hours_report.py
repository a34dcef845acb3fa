"""``callgate hours``: the office's week as text, for operators."""

from __future__ import annotations

from datetime import UTC, date, datetime

from .hours import LISTED_HOLIDAY, DayHours, OfficeHours


def describe_day(day: DayHours) -> str:
    """``09:00-13:00, 14:00-18:00``, ``closed (holiday: Christmas Day)``, ``… (special hours)``."""
    text = ", ".join(str(window) for window in day.windows) or "closed"
    if day.holiday == LISTED_HOLIDAY:
        text += " (holiday)"
    elif day.holiday:
        text += f" (holiday: {day.holiday})"
    if day.special:
        text += " (special hours)"
    return text


def render_week(hours: OfficeHours, now: datetime, start: date | None = None) -> str:
    """Seven days from ``start`` (default: today in the office zone), then the next opening."""
    local_now = now.astimezone(UTC).astimezone(hours.zone)
    first = start or local_now.date()
    lines = [f"Office hours in {hours.timezone} (now {_moment(local_now)}):"]
    for day in hours.week(first):
        marker = "  <- today" if day.day == local_now.date() else ""
        lines.append(f"  {day.day:%a %Y-%m-%d}  {describe_day(day)}{marker}")
    state = "open" if hours.is_open(now) else "closed"
    opening = hours.next_opening(now)
    following = _moment(opening) if opening else "none (it never closes)"
    lines.append(f"Now {state}. Next opening: {following}.")
    lines.append(
        f"Slots of {hours.slot_minutes} min, {hours.capacity} calls each, bookable today "
        f"and {hours.schedule_days} days ahead."
    )
    return "\n".join(lines)


def _moment(at: datetime) -> str:
    return f"{at:%a %Y-%m-%d %H:%M} {at.tzname()} (UTC{at.isoformat()[-6:]})"
