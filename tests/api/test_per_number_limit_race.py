"""Two simultaneous posts of one number cannot both pass a per-number limit of 1.

The limit is flask-limiter's (limits' storages): a look at the window, then a hit. Posts that
arrive together all look before any is counted; only the storage's own atomic check-and-count
(``hit``, a lock in memory, one script in Redis) may decide. The storage below is limits'
in-memory one, with one change that makes the race certain instead of likely: after its first
look at the per-number window, each request waits until the other has looked too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask
from werkzeug.test import TestResponse

from service.limits import TrimmedMemoryStorage
from tests.conftest import services

POSTS = 2
_both_looked = threading.Barrier(POSTS)
_looked = threading.local()


class BothLookStorage(TrimmedMemoryStorage):
    STORAGE_SCHEME = ["callgate-both-look"]  # noqa: RUF012 - limits' own declaration

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        window = super().get_moving_window(key, limit, expiry)
        if "phone" in key and not getattr(_looked, "done", False):
            _looked.done = True
            _both_looked.wait(timeout=10)
        return window


def test_two_posts_of_one_number_at_once_with_a_limit_of_1_pass_once(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(
        ratelimit_storage_url="callgate-both-look://",
        limit_per_phone="1/hour",
        limit_per_ip="100/minute",
    )
    start = threading.Barrier(POSTS)
    answers: list[TestResponse] = []
    lock = threading.Lock()

    def post(n: int) -> None:
        client = app.test_client()
        start.wait(timeout=10)
        answer = client.post(
            "/api/v1/callbacks",
            json={"phone": "+380671112233"},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"},
        )
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(POSTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answer.status_code for answer in answers) == [202, 429]
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.get_json()["code"] == "rate_limited"
    assert len(services(app).store.search()) == 1
