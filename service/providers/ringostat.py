"""Ringostat: the extended callback (``Api\\V2\\Callback.external``) and the simple callback.

See ``reference/ringostat-callback-api.txt``. Numbers go as international digits without ``+``.
Ringostat answers some refusals with HTTP 200 and a JSON-RPC ``error`` object: that is a
failure, not a placed call.
"""

from __future__ import annotations

import itertools
from typing import Any

import requests

from ..attribution import params as attribution_params
from ..config import RingostatSettings
from ..destinations import destination
from .base import (
    CallRequest,
    HttpClient,
    Placement,
    ProviderError,
    describe_prepared,
    snippet,
    status_error,
)

METHOD = "Api\\V2\\Callback.external"

# Attribution field -> Ringostat param (declared in service.attribution); sent only when
# known, never as empty strings.
_OPTIONAL_PARAMS = tuple(attribution_params("ringostat").items())


class RingostatExtended:
    """``POST {api}/a/v2`` with a JSON-RPC 2.0 body and the ``Auth-key`` header."""

    name = "ringostat"

    def __init__(self, settings: RingostatSettings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http
        self._ids = itertools.count(1)
        self.destination = _agent_leg(settings)

    def params(self, call: CallRequest) -> dict[str, Any]:
        s = self.settings
        params: dict[str, Any] = {
            "callee_type": s.callee_type,
            "caller_type": s.caller_type,
            "caller": call.phone.lstrip("+"),
            "callee": s.callee,
            "manager_dst": s.manager_dst,
            "direction": s.direction,
            "projectId": s.project_id,
        }
        for attribute, param in _OPTIONAL_PARAMS:
            value = getattr(call.attribution, attribute)
            if value:
                params[param] = value
        return params

    def prepare(self, call: CallRequest) -> requests.PreparedRequest:
        body = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": METHOD,
            "params": self.params(call),
        }
        return requests.Request(
            "POST",
            f"{self.settings.api_url}/a/v2",
            headers={"Auth-key": self.settings.auth_key, "Accept": "application/json"},
            json=body,
        ).prepare()

    def describe(self, call: CallRequest) -> dict[str, Any]:
        return describe_prepared(self.prepare(call), secret_headers=("Auth-key",))

    def place(self, call: CallRequest) -> Placement:
        response = self.http.send(self.prepare(call))
        if not response.ok:
            raise status_error(response, "Ringostat", (self.settings.auth_key,))
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("error"):
            raise ProviderError(
                "Ringostat refused the call: "
                + snippet(_rpc_error(answer["error"]), (self.settings.auth_key,)),
                retryable=False,
                http_status=response.status_code,
            )
        result = answer.get("result") if isinstance(answer, dict) else None
        reference = _reference(result)
        return Placement(
            reference=reference, http_status=response.status_code, destination=self.destination
        )


class RingostatSimple:
    """``POST {api}/callback/outward_call``, form-encoded ``extension`` and ``destination``."""

    name = "ringostat-simple"
    destination: str | None = None  # the extension calls out: no agent leg to route to

    def __init__(self, settings: RingostatSettings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    def prepare(self, call: CallRequest) -> requests.PreparedRequest:
        return requests.Request(
            "POST",
            f"{self.settings.api_url}/callback/outward_call",
            headers={"Auth-key": self.settings.auth_key},
            data={
                "extension": self.settings.extension.lstrip("+"),
                "destination": call.phone.lstrip("+"),
            },
        ).prepare()

    def describe(self, call: CallRequest) -> dict[str, Any]:
        return describe_prepared(self.prepare(call), secret_headers=("Auth-key",))

    def place(self, call: CallRequest) -> Placement:
        response = self.http.send(self.prepare(call))
        if not response.ok:
            raise status_error(response, "Ringostat", (self.settings.auth_key,))
        return Placement(http_status=response.status_code)


def _agent_leg(settings: RingostatSettings) -> str | None:
    """``callee`` when it names one SIP login or number; a forwarding scheme picks its agent
    inside Ringostat, and we cannot know whom."""
    if settings.callee_type not in ("sip", "number") or not settings.callee:
        return None
    try:
        return destination(settings.callee)
    except ValueError:
        return None


def _rpc_error(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('code', '?')} {str(error.get('message', ''))[:200]}".strip()
    return str(error)[:200]


def _reference(result: Any) -> str | None:
    """Ringostat's id for the call, where its answer carries one."""
    if isinstance(result, dict):
        for key in ("uniqueid", "id", "callId", "call_id"):
            if result.get(key):
                return str(result[key])[:128]
    if isinstance(result, str | int) and not isinstance(result, bool):
        return str(result)[:128]
    return None
