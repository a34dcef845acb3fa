"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from .. import limits
from ..services import services

bp = Blueprint("health", __name__)
log = logging.getLogger("callgate.health")


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when the store answers at this version's schema and no dispatcher, in any
    process, has seen the provider refuse our credentials since the last call that succeeded."""
    svc = services()
    checks: dict[str, str] = {}
    fault = None
    try:
        fault = svc.store.state.provider_fault()
        checks["store"] = "ok"
    except SQLAlchemyError as exc:
        log.error("readiness: store unreachable: %s", type(exc).__name__)
        checks["store"] = "unreachable"
    if svc.schema is not None:
        checks["schema"] = svc.schema.result()
    checks["provider"] = "configuration fault: " + fault if fault else "ok"
    ready = all(value == "ok" for value in checks.values())
    # Shown, but not a reason to leave the pool: leads are still taken under the stricter
    # per-process limits, and a Redis blip must not take every instance out at once.
    checks["rate_limits"] = limits.DEGRADED if limits.degraded() else "ok"
    response = jsonify({"status": "ready" if ready else "not ready", "checks": checks})
    response.status_code = 200 if ready else 503
    return response
