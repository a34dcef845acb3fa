"""The per-number limit holds in every layout, attacked as a caller would: ten simultaneous posts
of one number from ten addresses place at most ``3/hour`` calls.

Addresses come from X-Forwarded-For (one trusted proxy hop). De-duplication is off so that only
the limit stands between the posts and the calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import requests

from tests.fakes.provider import FakeProvider
from tests.integration.conftest import RINGOSTAT_ENV
from tests.servers import Redis, Service, wait_until

URL = "/api/v1/callbacks"
POSTS = 10
ROUNDS = 3  # several numbers: on a layout that counts per process, one round could be lucky


def _env(provider: FakeProvider, **extra: str) -> dict[str, str]:
    return {
        **RINGOSTAT_ENV,
        "CALLGATE_RINGOSTAT_API_URL": provider.url,
        "CALLGATE_TRUSTED_PROXIES": "1",
        "CALLGATE_DEDUPE_WINDOW": "0",
        **extra,
    }


def _simultaneous_posts(service: Service, phone: str, subnet: int) -> list[int]:
    """POSTS threads released together by a barrier, each from its own address."""
    barrier = threading.Barrier(POSTS)
    statuses: list[int] = []
    lock = threading.Lock()

    def post(n: int) -> None:
        session = requests.Session()
        session.get(service.url + "/healthz", timeout=10)  # connected before the barrier
        barrier.wait(timeout=30)
        response = session.post(
            service.url + URL,
            json={"phone": phone},
            headers={"X-Forwarded-For": f"10.{subnet}.0.{n + 1}"},
            timeout=30,
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(POSTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


def _attack(service: Service, provider: FakeProvider, base: int) -> None:
    accepted = 0
    for n in range(ROUNDS):
        digits = f"38067{base + n:07d}"
        statuses = _simultaneous_posts(service, "+" + digits, base % 200 + n)
        assert len(statuses) == POSTS
        assert set(statuses) <= {202, 429}, statuses
        assert statuses.count(202) <= 3, f"{statuses.count(202)} accepted for one number"
        accepted += statuses.count(202)
    # Every accepted lead is called, once; none beyond the limit.
    wait_until(lambda: sum(provider.accepted.values()) >= accepted, 30, "the calls placed")
    for n in range(ROUNDS):
        assert provider.accepted[f"38067{base + n:07d}"] <= 3


def test_embedded_default_layout_places_at_most_the_limit(
    start_service: Callable[..., Service], fake_ringostat: FakeProvider
) -> None:
    # No CALLGATE_WORKERS, no storage: what `make run` and a bare `callgate serve` start.
    service = start_service(_env(fake_ringostat))
    _attack(service, fake_ringostat, base=1000)


def test_several_workers_sharing_redis_place_at_most_the_limit(
    start_service: Callable[..., Service], fake_ringostat: FakeProvider, redis_server: Redis
) -> None:
    import redis

    redis.Redis.from_url(redis_server.url).flushdb()
    service = start_service(
        _env(
            fake_ringostat,
            CALLGATE_RATELIMIT_STORAGE_URL=redis_server.url,
            CALLGATE_WORKERS="2",
            CALLGATE_THREADS="8",
        )
    )
    _attack(service, fake_ringostat, base=2000)
