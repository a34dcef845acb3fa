"""The real clock, end to end: the office opens a minute from now; a lead posted now is stored
scheduled and placed at the opening, not before (the fake Ringostat's receive time says)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from tests.fakes.provider import FakeProvider
from tests.integration.conftest import RINGOSTAT_ENV
from tests.servers import Service

KYIV = ZoneInfo("Europe/Kyiv")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The service needs a few seconds to start and take the lead before the office opens.
LEAD_TIME = timedelta(seconds=25)


def _opening_soon() -> tuple[datetime, str]:
    """The next whole minute at least LEAD_TIME away (office time), and hours opening then.

    The window stays inside the opening's own local day (it may not cross midnight): near
    midnight it ends at 24:00, and a 00:00 opening is on the next day's name."""
    now = datetime.now(KYIV)
    opening = (now + LEAD_TIME).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = opening.hour * 60 + opening.minute
    end = min(start + 30, 24 * 60)
    window = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
    return opening, f"{DAYS[opening.weekday()]} {window}"


def test_a_lead_posted_before_the_opening_is_placed_at_the_opening(
    start_service: Callable[..., Service], fake_ringostat: FakeProvider
) -> None:
    opening, office_hours = _opening_soon()
    service = start_service(
        {
            **RINGOSTAT_ENV,
            "CALLGATE_RINGOSTAT_API_URL": fake_ringostat.url,
            "CALLGATE_TIMEZONE": "Europe/Kyiv",
            "CALLGATE_OFFICE_HOURS": office_hours,
            "CALLGATE_SLOT_MINUTES": "1",
        }
    )
    assert time.time() < opening.timestamp(), "the service started too slowly for this test"
    answer = requests.post(
        f"{service.url}/api/v1/callbacks", json={"phone": "+380671112233"}, timeout=5
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "scheduled"
    assert datetime.fromisoformat(body["scheduled_for"]) == opening
    status = requests.get(f"{service.url}/api/v1/callbacks/{body['id']}", timeout=5).json()
    assert status["status"] == "scheduled"

    # Placed once the office opens (the claim loop sleeps until the task's due time).
    wait = opening.timestamp() - time.time() + 20
    [received] = fake_ringostat.wait_for(1, timeout=wait)
    assert received.at >= opening.timestamp()
