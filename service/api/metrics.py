"""``GET /metrics`` for Prometheus, readable with ``CALLGATE_METRICS_TOKEN`` (a bearer token) or
from an address in ``CALLGATE_METRICS_ALLOW`` (loopback by default). Anyone else gets the same
404 as for a path that does not exist: counts of leads are nobody else's business.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from functools import cache
from typing import TYPE_CHECKING

from flask import Blueprint, Response, g, request

from .. import limits, metrics
from ..config import MetricsSettings
from ..services import Services, services
from .problems import Problem

if TYPE_CHECKING:
    from ..metrics.state import StateCollector

bp = Blueprint("metrics", __name__)
VISITOR_ENDPOINT = "callbacks.create"


@bp.before_app_request
def _started() -> None:
    g.metrics_started = time.perf_counter()


@bp.after_app_request
def _finished(response: Response) -> Response:
    endpoint = request.endpoint or "unmatched"
    started = g.get("metrics_started")
    if started is not None:
        metrics.request_finished(endpoint, time.perf_counter() - started)
    if endpoint == VISITOR_ENDPOINT and response.status_code >= 400:
        problem: Problem | None = g.get("problem")
        metrics.lead_refused(_refusal_code(problem, response.status_code))
    return response


def _refusal_code(problem: Problem | None, status: int) -> str:
    """The refused field's code (phone_blocked, honeypot…) or the problem's (rate_limited…)."""
    if problem is None:
        return f"http_{status}"
    if problem.error_codes:
        return next(iter(problem.error_codes.values()))
    return problem.code


@bp.get("/metrics")
def scrape() -> Response:
    svc = services()
    if not allowed(svc.settings.metrics, request.remote_addr, request.headers.get("Authorization")):
        raise Problem(404, "not_found", "Not Found", f"Nothing is at {request.path}.")
    # Imported here: prometheus_client must not load before a launcher chose its directory.
    from ..metrics.exposition import CONTENT_TYPE, render

    response = Response(render(collector(svc)), mimetype=None, content_type=CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def allowed(settings: MetricsSettings, remote_addr: str | None, authorization: str | None) -> bool:
    """The right bearer token, or an address in one of the allowed networks."""
    if settings.token and authorization:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), settings.token.encode()
        ):
            return True
    if not remote_addr:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in network for network in _networks(settings.allow))


@cache
def _networks(
    allow: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(text) for text in allow)


def collector(svc: Services) -> StateCollector:
    """What this app reads at scrape time: its queue, its daily budget, its limiter."""
    from ..metrics.state import StateCollector, daily_budget, tasks_queue

    return StateCollector(
        queue=lambda: tasks_queue(svc.store),
        budget=lambda: daily_budget(svc.store, svc.settings.daily_call_budget),
        degraded=limits.degraded,
        provider_fault=lambda: (svc.provider.name, svc.store.state.provider_fault() is not None),
    )
