"""Simultaneous requests cannot all slip under a limit: each is counted by the storage's own
atomic check-and-count, not by a look followed by a separate count.

The storage below is limits' in-memory one, with one change that makes the race certain
instead of likely: after its first look at the per-number window, each request waits until all
of them have looked, as when they arrive together (or the storage is a slow Redis).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask

from service.limits import TrimmedMemoryStorage

POSTS = 10
_gate = threading.Barrier(POSTS)
_looked = threading.local()


class LookTogetherStorage(TrimmedMemoryStorage):
    STORAGE_SCHEME = ["look-together"]  # noqa: RUF012 - limits' own declaration

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        window = super().get_moving_window(key, limit, expiry)
        if "phone" in key and not getattr(_looked, "done", False):
            # Each request has read the window; none goes on before every one has.
            _looked.done = True
            _gate.wait(timeout=10)
        return window


def test_ten_simultaneous_posts_of_one_number_get_at_most_the_limit(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(
        ratelimit_storage_url="look-together://",
        limit_per_phone="3/hour",
        limit_per_ip="100/minute",
        dedupe_window=0,
    )
    statuses: list[int] = []
    lock = threading.Lock()

    def post(n: int) -> None:
        response = app.test_client().post(
            "/api/v1/callbacks",
            json={"phone": "+380671112233"},
            environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"},
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(POSTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [202] * 3 + [429] * 7
