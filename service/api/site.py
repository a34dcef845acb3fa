"""The human pages: the demo form at ``/`` and the thank-you page plain form posts land on."""

from __future__ import annotations

import secrets

from flask import Blueprint, Response, g, render_template, request

from ..services import Services, services
from ..tokens import issue
from .slots import now, open_slots

bp = Blueprint("site", __name__)


def csp_nonce() -> str:
    """One nonce per response for our own inline <style>: the pages need no 'unsafe-inline'."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    nonce: str = g.csp_nonce
    return nonce


@bp.app_context_processor
def _template_helpers() -> dict[str, object]:
    return {"csp_nonce": csp_nonce}


@bp.after_request
def _content_security_policy(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
        f"style-src 'self' 'nonce-{csp_nonce()}'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    return response


@bp.get("/")
def demo() -> Response:
    """A plain HTML callback form that works with no JavaScript.

    Being our own page, it can carry a signed form token even without JavaScript. With office
    hours configured, it offers the open slots as a ``<select name="call_at">``.
    """
    svc = services()
    response = Response(
        render_template(
            "demo.html",
            form_token=issue(svc.settings.secret_key),
            slot_days=slot_choices(svc) if svc.hours.closes else None,
        )
    )
    response.headers["Cache-Control"] = "no-store"  # the token is per visit
    return response


def slot_choices(svc: Services) -> list[tuple[str, list[tuple[str, str]]]]:
    """Open slots by local day, for the demo form's select: (day label, [(value, time)])."""
    days: dict[str, list[tuple[str, str]]] = {}
    for slot in open_slots(svc, now()):
        local = slot.start
        day = f"{local:%A} {local.day} {local:%B}"
        days.setdefault(day, []).append((local.isoformat(), f"{local:%H:%M}"))
    return list(days.items())


@bp.get("/thanks")
def thanks() -> str:
    return render_template("thanks.html", lead_id=request.args.get("callgate", "")[:32])
