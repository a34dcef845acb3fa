"""How each limit's window counts (docs/security.md, "Two windows").

The per-number limit is a moving window: exact over any hour measured back from now. The
others are sliding-window counters: the previous fixed window weighed as if spread evenly,
never quite twice the limit within one rolling window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import time_machine
from flask import Flask

# Hour-aligned, so that the counters' fixed windows start on the hour.
TEN = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def _post(app: Flask, phone: str, n: int) -> int:
    response = app.test_client().post(
        "/api/v1/callbacks",
        json={"phone": phone},
        environ_base={"REMOTE_ADDR": f"198.51.100.{n % 250 + 1}"},
    )
    return response.status_code


def test_the_per_number_limit_is_exact_across_the_hour(make_app: Callable[..., Flask]) -> None:
    app = make_app(limit_per_phone="3/hour", dedupe_window=0, limit_per_ip="1000/hour")
    number = "+380671112233"
    with time_machine.travel(TEN + timedelta(minutes=59), tick=False) as clock:
        assert [_post(app, number, n) for n in range(3)] == [202, 202, 202]
        # Half an hour into the next fixed window a counter would weigh those three as 1.5
        # and let a fourth through; the moving window still holds all three.
        clock.move_to(TEN + timedelta(hours=1, minutes=30))
        assert _post(app, number, 3) == 429
        clock.move_to(TEN + timedelta(hours=1, minutes=59, seconds=1))
        assert _post(app, number, 4) == 202


def test_the_global_limit_never_admits_twice_its_count_in_a_rolling_hour(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(
        limit_global="4/hour", limit_per_phone="100/hour", dedupe_window=0, limit_per_ip="1000/hour"
    )
    admitted: list[datetime] = []
    with time_machine.travel(TEN, tick=False) as clock:
        # A request every five minutes for three hours: bursts and gaps at every boundary.
        for n in range(36):
            moment = TEN + timedelta(minutes=5 * n)
            clock.move_to(moment)
            if _post(app, f"+38067{n:07d}", n) == 202:
                admitted.append(moment)
    for start in admitted:
        in_hour = [m for m in admitted if start <= m < start + timedelta(hours=1)]
        assert len(in_hour) < 2 * 4
    # On average, the limit: three hours, about twelve.
    assert 10 <= len(admitted) <= 14
