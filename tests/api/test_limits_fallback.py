"""Rate limits when the shared storage (Redis) does not answer: stricter, per process, no 500."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from tests.servers import free_port

URL = "/api/v1/callbacks"


def _app_with_unreachable_redis(make_app: Callable[..., Flask]) -> Flask:
    # Nothing listens on this port: every storage call is refused.
    return make_app(
        ratelimit_storage_url=f"redis://127.0.0.1:{free_port()}/0",
        limit_per_ip="100/minute",
        limit_per_phone="100/minute",
        limit_fallback_per_ip="3/minute",
        limit_fallback_per_phone="2/minute",
        dedupe_window=0.0,
    )


def test_leads_are_accepted_under_the_fallback_limits(make_app: Callable[..., Flask]) -> None:
    client = _app_with_unreachable_redis(make_app).test_client()
    statuses = [client.post(URL, json={"phone": f"+38067111223{n}"}).status_code for n in range(4)]
    # The per-IP fallback (3/minute) replaces the shared 100/minute.
    assert statuses == [202, 202, 202, 429]


def test_per_number_fallback_applies_to_check_destination(make_app: Callable[..., Flask]) -> None:
    client = _app_with_unreachable_redis(make_app).test_client()
    answers = [
        client.post(
            URL, json={"phone": "+380671112233"}, environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}
        )
        for n in range(3)
    ]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[2].mimetype == "application/problem+json"
    assert "to this number" in answers[2].get_json()["detail"]


def test_readyz_shows_the_degradation_and_stays_ready(make_app: Callable[..., Flask]) -> None:
    client = _app_with_unreachable_redis(make_app).test_client()
    client.post(URL, json={"phone": "+380671112233"})
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["rate_limits"] == "degraded: in-memory fallback"
    assert ready.get_json()["status"] == "ready"


def test_readyz_says_ok_with_a_working_storage(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    assert client.get("/readyz").get_json()["checks"]["rate_limits"] == "ok"
