"""The in-process rate-limit storage: same counting as limits' own, housekeeping once a second."""

from __future__ import annotations

import time
from collections.abc import Callable

import limits
from flask import Flask
from limits.strategies import MovingWindowRateLimiter

from service.limits import TrimmedMemoryStorage, limiter, storage_uri


def test_the_embedded_default_opens_the_trimmed_storage(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.app_context():
        assert isinstance(limiter.storage, TrimmedMemoryStorage)
    assert storage_uri("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_a_hit_arms_one_trim_a_second_not_every_10_ms() -> None:
    storage = TrimmedMemoryStorage()
    storage.timer.join(5)  # the base class arms one 10 ms run when it is built
    strategy = MovingWindowRateLimiter(storage)
    item = limits.parse("5/hour")
    for n in range(50):
        strategy.hit(item, "phone", str(n))
    # If limits renamed the private scheduler this overrides, its 10 ms timer would be back.
    assert storage.timer.interval == TrimmedMemoryStorage.TRIM_EVERY
    assert storage.timer.daemon


def test_windows_count_the_same_without_the_trim() -> None:
    storage = TrimmedMemoryStorage()
    storage.TRIM_EVERY = 60  # no trim at all during the test
    storage.timer.join(5)  # nor the base class's first one
    strategy = MovingWindowRateLimiter(storage)
    item = limits.parse("3/second")
    assert [strategy.hit(item, "ip", "a") for _ in range(4)] == [True, True, True, False]
    assert strategy.hit(item, "ip", "b")
    time.sleep(1.05)  # the window moves on even though no trim has run yet
    assert strategy.hit(item, "ip", "a")


def test_the_trim_reclaims_expired_keys() -> None:
    storage = TrimmedMemoryStorage()
    storage.TRIM_EVERY = 0.05
    strategy = MovingWindowRateLimiter(storage)
    strategy.hit(limits.parse("1/second"), "phone", "old")
    time.sleep(1.1)
    strategy.hit(limits.parse("1/day"), "phone", "new")  # arms the next trim
    deadline = time.monotonic() + 5
    while _entries(storage, "old") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _entries(storage, "old") == 0
    assert _entries(storage, "new") == 1


def _entries(storage: TrimmedMemoryStorage, key_part: str) -> int:
    return sum(len(events) for key, events in storage.events.items() if key_part in key)
