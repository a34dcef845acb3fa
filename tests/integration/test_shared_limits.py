"""Two gunicorn instances, one Redis: one per-IP and per-number budget; Redis down: fallback.

Each instance runs one worker, so "per process" in the fallback is "per instance" here. Client
addresses come from X-Forwarded-For (one trusted proxy hop), so each scenario has its own IP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import pytest
import redis
import requests

from tests.fakes.provider import FakeProvider
from tests.integration.conftest import RINGOSTAT_ENV
from tests.servers import Redis, Service, wait_until

URL = "/api/v1/callbacks"
DEGRADED = "degraded: in-memory fallback"
_numbers = count(1)


def _env(redis_url: str, api_url: str, database: Path) -> dict[str, str]:
    return {
        **RINGOSTAT_ENV,
        "CALLGATE_RINGOSTAT_API_URL": api_url,
        "CALLGATE_DATABASE_URL": f"sqlite:///{database}",
        "CALLGATE_RATELIMIT_STORAGE_URL": redis_url,
        "CALLGATE_TRUSTED_PROXIES": "1",
        "CALLGATE_WORKERS": "1",
        "CALLGATE_DISPATCHER": "external",
        "CALLGATE_DEDUPE_WINDOW": "0",
        "CALLGATE_LIMIT_PER_IP": "3/minute",
        "CALLGATE_LIMIT_PER_PHONE": "3/minute",
        "CALLGATE_LIMIT_GLOBAL": "1000/minute",
        "CALLGATE_LIMIT_FALLBACK_PER_IP": "2/minute",
        "CALLGATE_LIMIT_FALLBACK_PER_PHONE": "1/minute",
        "CALLGATE_LIMIT_FALLBACK_GLOBAL": "1000/minute",
    }


def _fresh_number() -> str:
    return f"+38067{next(_numbers):07d}"


def _post(service: Service, ip: str, phone: str | None = None) -> int:
    response = requests.post(
        service.url + URL,
        json={"phone": phone or _fresh_number()},
        headers={"X-Forwarded-For": ip},
        timeout=10,
    )
    if response.status_code >= 400:
        assert response.headers["Content-Type"].startswith("application/problem+json")
    return response.status_code


def _rate_limits(service: Service) -> tuple[int, str]:
    response = requests.get(service.url + "/readyz", timeout=10)
    return response.status_code, response.json()["checks"]["rate_limits"]


@pytest.fixture
def pair(
    start_service: Callable[..., Service],
    redis_server: Redis,
    fake_ringostat: FakeProvider,
    tmp_path: Path,
) -> Iterator[tuple[Service, Service]]:
    redis.Redis.from_url(redis_server.url).flushdb()
    a = start_service(_env(redis_server.url, fake_ringostat.url, tmp_path / "a.db"), name="a")
    b = start_service(_env(redis_server.url, fake_ringostat.url, tmp_path / "b.db"), name="b")
    yield a, b
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()  # the session's Redis, for the tests after this one


def test_one_per_ip_budget_across_instances(pair: tuple[Service, Service]) -> None:
    a, b = pair
    ip = "10.1.0.1"
    assert [_post(a, ip), _post(b, ip), _post(a, ip), _post(b, ip)] == [202, 202, 202, 429]


def test_one_per_number_budget_across_instances(pair: tuple[Service, Service]) -> None:
    a, b = pair
    phone = _fresh_number()
    statuses = [_post(s, f"10.2.0.{n}", phone) for n, s in enumerate((a, b, a, b))]
    assert statuses == [202, 202, 202, 429]


def test_redis_down_fallback_then_shared_again(
    pair: tuple[Service, Service], redis_server: Redis
) -> None:
    a, b = pair
    assert _rate_limits(a) == (200, "ok")

    redis_server.stop()
    # Still taking leads, each instance under its own stricter per-IP limit (2/minute)...
    ip = "10.3.0.1"
    assert [_post(a, ip), _post(a, ip), _post(a, ip)] == [202, 202, 429]
    assert [_post(b, ip), _post(b, ip), _post(b, ip)] == [202, 202, 429]
    # ...and per-number limit (1/minute), through check_destination.
    phone = _fresh_number()
    assert [_post(a, "10.3.1.1", phone), _post(a, "10.3.1.2", phone)] == [202, 429]
    # Visible, but still in the pool.
    assert _rate_limits(a) == (200, DEGRADED)
    assert _rate_limits(b) == (200, DEGRADED)

    redis_server.start()
    probes = count()

    def recovered(service: Service) -> bool:
        # flask-limiter probes the storage, with backoff, on limited requests.
        n = next(probes)
        _post(service, f"10.4.{n // 250}.{n % 250 + 1}")
        return _rate_limits(service) == (200, "ok")

    wait_until(lambda: recovered(a), 90, "instance a back on Redis")
    wait_until(lambda: recovered(b), 90, "instance b back on Redis")

    ip = "10.5.0.1"
    assert [_post(a, ip), _post(b, ip), _post(a, ip), _post(b, ip)] == [202, 202, 202, 429]
