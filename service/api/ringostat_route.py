"""``/api/v1/ringostat/route``: Ringostat's call-routing webhook asks where a live call goes.

See ``reference/ringostat-webhook-call-routing.txt``. Ringostat's form chooses the method (GET,
POST, PUT, DELETE), how parameters travel ("data submission type": query string, HTTP headers,
a JSON body, JSON-RPC) and how the answer is read ("data import type", our
``CALLGATE_ROUTE_RESPONSE``). We accept every way of sending and answer the configured way.

Authentication: the form sets only a URL and parameters, so the secret ``CALLGATE_ROUTE_TOKEN``
comes as the last path segment or as the ``token`` parameter, and is compared in constant time.
It is checked before the body is read when it comes in the path, query string or a header; only
a token sent in the body needs the body, which is then read with a parser that cannot fail. A
wrong or missing token gets the same plain 404 as a path that does not exist, whatever the
method.

Ringostat waits on this answer during a live call: nothing here calls a provider (see
:mod:`service.routing`), and an unexpected error still answers with the fallback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..config import RouteSettings
from ..limits import limiter
from ..routing import FALLBACK, Route
from ..services import services
from . import origins
from .bodies import parse

bp = Blueprint("ringostat_route", __name__, url_prefix="/api/v1/ringostat")
log = logging.getLogger("callgate.api.route")

METHODS = ["GET", "POST", "PUT", "DELETE"]
# Every method reaches the view, so that without the token none answers otherwise than a path
# that does not exist (a 405 with Allow would tell the endpoint is here).
ANY_METHOD = [*METHODS, "HEAD", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "SEARCH"]
TOKEN_PARAM = "token"  # noqa: S105 - the parameter's name, not a secret

# Ringostat sets an Origin header of its own (the reference shows one): not a browser's post.
origins.exempt(bp.name)


@dataclass
class WebhookRequest:
    """The parameters of one webhook request, wherever they came from."""

    params: dict[str, str] = field(default_factory=dict)
    rpc_id: Any = None

    def get(self, name: str) -> str | None:
        """A parameter from the body, form or query string, else an HTTP header of that name.

        gunicorn drops headers whose names hold ``_`` (a request-smuggling guard), so a
        parameter sent as a header is also looked for with ``-`` in place of ``_``.
        """
        value = self.params.get(name)
        if value is not None:
            return value
        return request.headers.get(name) or request.headers.get(name.replace("_", "-"))


def read_request() -> WebhookRequest:
    """Query string, then a form body, then a JSON or JSON-RPC body; later sources win.

    A body too large, malformed or nested too deeply adds nothing; it never fails the request.
    """
    found = WebhookRequest()
    found.params.update(request.args.items())
    try:
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            found.params.update(request.form.items())
            return found
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return found
    if not body.strip().startswith(b"{"):
        return found
    try:
        payload = parse(body)
    except ValueError:
        return found
    if not isinstance(payload, dict):
        return found
    if "jsonrpc" in payload or ("method" in payload and "params" in payload):
        found.rpc_id = payload.get("id")
        payload = payload.get("params")
        if not isinstance(payload, dict):
            return found
    found.params.update(
        {str(k): _text(v) for k, v in payload.items() if isinstance(v, str | int | float)}
    )
    return found


def authorised(expected: str, given: str | None) -> bool:
    """Constant-time comparison; digests first so not even the length shows in the timing."""
    if not expected:
        return False
    given_digest = hashlib.sha256((given or "").encode()).digest()
    return hmac.compare_digest(given_digest, hashlib.sha256(expected.encode()).digest())


def answer(route: Route, settings: RouteSettings, rpc_id: Any) -> Response:
    """The destination in Ringostat's configured "data import type"."""
    if settings.response == "http":
        response = Response(route.destination, mimetype="text/plain")
    elif settings.response == "jsonrpc":
        # "Name in response for destination" is documented for JSON only: the result is bare.
        response = jsonify({"jsonrpc": "2.0", "id": rpc_id, "result": route.destination})
    else:
        response = jsonify({settings.response_key: route.destination})
    response.headers["Cache-Control"] = "no-store"
    return response


def _token_outside_body(path_token: str | None) -> str | None:
    """The token from the path, the query string or a header: no need to read the body."""
    if path_token is not None:
        return path_token
    return request.args.get(TOKEN_PARAM) or request.headers.get(TOKEN_PARAM)


@bp.route("/route", methods=ANY_METHOD, provide_automatic_options=False)
@bp.route("/route/<path_token>", methods=ANY_METHOD, provide_automatic_options=False)
@limiter.exempt  # Ringostat calls from a few addresses; a live call is never rate limited
def route(path_token: str | None = None) -> Response:
    svc = services()
    settings = svc.settings.route
    given = _token_outside_body(path_token)
    webhook = None
    if given is None:
        webhook = read_request()
        given = webhook.get(TOKEN_PARAM)
    if not authorised(settings.token, given):
        abort(404)
    if request.method not in (*METHODS, "HEAD"):
        abort(405, valid_methods=METHODS)
    webhook = webhook or read_request()
    try:
        assert svc.router is not None
        decided = svc.router.route(webhook.get(settings.caller_param))
    except Exception:
        # The call is live: an answer with the fallback beats an error page.
        log.exception("routing failed; answering with the fallback")
        decided = Route(settings.fallback, FALLBACK)
    return answer(decided, settings, webhook.rpc_id)


def _text(value: str | float) -> str:
    return value if isinstance(value, str) else json.dumps(value)
