"""The human pages: the demo form at ``/`` and the thank-you page plain form posts land on."""

from __future__ import annotations

from flask import Blueprint, render_template, request

bp = Blueprint("site", __name__)


@bp.get("/")
def demo() -> str:
    """A plain HTML callback form that works with no JavaScript."""
    return render_template("demo.html")


@bp.get("/thanks")
def thanks() -> str:
    return render_template("thanks.html", lead_id=request.args.get("callgate", "")[:32])
