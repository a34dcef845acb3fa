"""One error shape for every failure: RFC 9457 ``application/problem+json``.

Our own refusals raise :class:`Problem`; werkzeug's HTTP errors and unexpected exceptions are
turned into the same shape by :func:`register`. An unexpected exception is logged with its
traceback and answered with a generic 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, json, render_template, request
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from ..limits import retry_after_current

log = logging.getLogger("callgate.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://callgate.dev/problems/"


class Problem(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        error_codes: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail or title
        self.errors = errors
        self.error_codes = error_codes
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.code.replace("_", "-"),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.errors:
            body["errors"] = self.errors
        if self.error_codes:
            body["error_codes"] = self.error_codes
        if getattr(g, "request_id", None):
            body["request_id"] = g.request_id
        return body


def validation(field: str, message: str, code: str = "invalid") -> Problem:
    """A 422 that names the field."""
    return Problem(
        422,
        "validation_error",
        "The request has invalid fields.",
        f"{field}: {message}",
        errors={field: [message]},
        error_codes={field: code},
    )


def respond(problem: Problem) -> Response:
    g.problem = problem  # counted by service.api.metrics
    if _wants_html():
        referrer = request.referrer or ""
        back = referrer if referrer.startswith(("http:", "https:")) else None
        html = render_template("problem.html", problem=problem, back=back)
        response = Response(html, status=problem.status, mimetype="text/html")
    else:
        response = Response(
            json.dumps(problem.body()), status=problem.status, mimetype=PROBLEM_JSON
        )
    response.headers.update(problem.headers)
    return response


def _wants_html() -> bool:
    """A browser posting a plain HTML form (no JavaScript) gets a page, not JSON."""
    if request.method != "POST" or request.mimetype not in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def register(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        return respond(problem)

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(exc: RateLimitExceeded) -> Response:
        wait = retry_after_current()
        return respond(
            Problem(
                429,
                "rate_limited",
                "Too many requests.",
                f"Too many requests from this address; try again in {wait} seconds.",
                headers={"Retry-After": str(wait)},
            )
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        problem = Problem(
            status,
            _slug(exc.name),
            exc.name,
            _detail(exc),
            headers={"Allow": ", ".join(exc.valid_methods)}  # type: ignore[attr-defined]
            if status == 405 and getattr(exc, "valid_methods", None)
            else None,
        )
        return respond(problem)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return respond(
            Problem(
                500,
                "internal_error",
                "Internal Server Error",
                # Said of every 500, before or after a lead was stored: never "not stored".
                "Something went wrong on our side. Quote the request id if you contact us.",
            )
        )


def _slug(name: str) -> str:
    return name.lower().replace(" ", "_").replace("'", "")


def _detail(exc: HTTPException) -> str:
    if exc.code == 413:
        return "The request body is larger than 16 KB."
    if exc.code == 405:
        return f"{request.method} is not allowed on {request.path}."
    if exc.code == 404:
        return f"Nothing is at {request.path}."
    return exc.description or exc.name
