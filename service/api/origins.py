"""Which web origins may use the API.

CORS (flask-cors) decides what a browser lets a page on another origin read. It does not stop
a plain HTML form on a foreign site from posting, so a POST that carries an ``Origin`` header
that is neither ours nor allowed is refused outright.
"""

from __future__ import annotations

from flask import Flask, request
from flask_cors import CORS

from ..services import services
from .problems import Problem

# Blueprints of server-to-server endpoints (webhooks): their callers set Origin as they like.
_EXEMPT: set[str] = set()


def exempt(blueprint: str) -> None:
    """Let posts to this blueprint carry any ``Origin``: a server calls it, not a page."""
    _EXEMPT.add(blueprint)


def allowed_origin(origin: str) -> bool:
    return origin.lower().rstrip("/") in services().settings.allowed_origins


def same_origin(origin: str) -> bool:
    return origin.lower().rstrip("/") == request.host_url.lower().rstrip("/")


def init_app(app: Flask, allowed: tuple[str, ...]) -> None:
    CORS(
        app,
        resources={r"/api/v1/*": {}, r"/widget.js": {}, r"/widget-.*\.js": {}},
        origins=list(allowed),
        methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", "Idempotency-Key", "Accept"],
        expose_headers=["Location", "Retry-After"],
        max_age=600,
        supports_credentials=False,
        vary_header=True,
    )

    @app.before_request
    def _refuse_foreign_posts() -> None:
        if request.method != "POST" or request.blueprint in _EXEMPT:
            return
        origin = request.headers.get("Origin")
        if origin is None or same_origin(origin) or allowed_origin(origin):
            return
        raise Problem(
            403,
            "origin_not_allowed",
            "Forbidden",
            f"Posts from {origin[:100]} are not allowed; add it to CALLGATE_ALLOWED_ORIGINS.",
        )
