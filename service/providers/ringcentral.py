"""RingCentral RingOut (``reference/ringcentral-ringout-api.txt``; the path is spelt ``ring-out``).

RingOut rings ``from`` (our agent's phone) first and, once it answers, dials ``to`` (the
visitor, E.164). The ring-out id is the lead's provider reference: the dispatcher polls
``GET …/ring-out/{id}`` until the call is final, and ``callgate leads cancel`` sends ``DELETE``.

We use a small client on ``requests`` rather than the ``ringcentral`` SDK: the SDK opens a new
HTTP session per call and leaves 429 to the caller, while we want one pooled session per
thread, our own timeouts and error mapping (:class:`~.base.HttpClient`), one cached token for
all threads (:mod:`.oauth`), and ``Retry-After`` handed to the dispatcher's backoff.

HTTP outcomes: 400 (a number RingCentral will not dial) fails the lead; 403 is our
configuration (a ``callerId`` that is not one of the extension's numbers, no RingOut
permission, no funds) unless it names the destination (``InternationalDisabled``,
``DestinationBlocked``), which fails only this lead; 401 renews the token once; 429 waits
``Retry-After``; 5xx and connection failures are retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests

from ..config import RingCentralSettings
from .base import (
    CallRequest,
    CallState,
    HttpClient,
    Placement,
    ProviderError,
    describe_prepared,
    snippet,
    status_error,
)
from .oauth import JwtTokenSource

RING_OUT = "/restapi/v1.0/account/~/extension/~/ring-out"
# A 403 naming one of these refuses this destination, not our whole configuration.
DESTINATION_REFUSALS = ("InternationalDisabled", "DestinationBlocked")
# Leg statuses that end the call whatever callStatus says.
LEG_FAILURES = frozenset(
    {
        "Busy",
        "NoAnswer",
        "Rejected",
        "GenericError",
        "InternationalDisabled",
        "DestinationBlocked",
        "NotEnoughFunds",
        "NoSuchUser",
    }
)
LEG_FINE = frozenset({"", "InProgress", "Success", "Finished"})
ANSWERED = frozenset({"Success", "Finished"})
CALL_FINAL = frozenset({"Invalid", "CannotReach", "Error", "NoAnsweringMachine", "NoSessionFound"})


class RingCentral:
    name = "ringcentral"
    destination: str | None = None  # no single number or SIP login we could route to

    def __init__(
        self,
        settings: RingCentralSettings,
        http: HttpClient,
        tokens: JwtTokenSource | None = None,
    ) -> None:
        self.settings = settings
        self.http = http
        self.tokens = tokens or JwtTokenSource(
            settings.server_url, settings.client_id, settings.client_secret, settings.jwt, http
        )
        self.url = settings.server_url + RING_OUT

    # -- requests -----------------------------------------------------------------------------

    def body(self, call: CallRequest) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {}
        if s.from_number:
            body["from"] = {"phoneNumber": s.from_number}
        body["to"] = {"phoneNumber": call.phone}
        if s.caller_id:
            body["callerId"] = {"phoneNumber": s.caller_id}
        body["playPrompt"] = s.play_prompt
        return body

    def _request(
        self, method: str, url: str, token: str, json: Any = None
    ) -> requests.PreparedRequest:
        return requests.Request(
            method,
            url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            json=json,
        ).prepare()

    def describe(self, call: CallRequest) -> dict[str, Any]:
        # No sign-in: dry-run calls nobody, not even the token endpoint.
        prepared = self._request("POST", self.url, "***", self.body(call))
        return describe_prepared(prepared, secret_headers=("Authorization",))

    def _send(self, build: Callable[[str], requests.PreparedRequest]) -> requests.Response:
        """Send with the cached token; on 401 renew it once and send again.

        A 401 means RingCentral did not act on the request, so sending it again cannot ring
        anyone twice.
        """
        token = self.tokens.token()
        response = self.http.send(build(token))
        if response.status_code == 401:
            self.tokens.invalidate(token)
            response = self.http.send(build(self.tokens.token()))
        return response

    # -- the provider interface ---------------------------------------------------------------

    def place(self, call: CallRequest) -> Placement:
        body = self.body(call)
        response = self._send(lambda token: self._request("POST", self.url, token, body))
        if not response.ok:
            raise self._error(response, "RingCentral")
        answer = _json(response)
        ring_out_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(ring_out_id, str | int) or isinstance(ring_out_id, bool):
            raise ProviderError(
                f"RingCentral answered HTTP {response.status_code} without a ring-out id",
                retryable=False,
                http_status=response.status_code,
                outcome_unknown=True,
            )
        raw = ""
        if isinstance(answer, dict) and isinstance(answer.get("status"), dict):
            raw = call_state(answer["status"]).raw
        return Placement(
            reference=str(ring_out_id)[:128],
            http_status=response.status_code,
            detail={"ring_out": raw} if raw else {},
        )

    def status(self, placement: Placement) -> CallState:
        url = self._call_url(placement)
        response = self._send(lambda token: self._request("GET", url, token))
        if response.status_code == 404:
            raise ProviderError(
                "RingCentral no longer knows this ring-out", retryable=False, http_status=404
            )
        if not response.ok:
            raise self._error(response, "RingCentral status")
        answer = _json(response)
        if not isinstance(answer, dict) or not isinstance(answer.get("status"), dict):
            raise ProviderError(
                "RingCentral status answered without a status object",
                retryable=True,
                http_status=response.status_code,
            )
        return call_state(answer["status"])

    def cancel(self, placement: Placement) -> None:
        url = self._call_url(placement)
        response = self._send(lambda token: self._request("DELETE", url, token))
        if response.status_code == 404:
            raise ProviderError(
                "RingCentral no longer knows this ring-out: the call is over",
                retryable=False,
                http_status=404,
            )
        if not response.ok:
            raise self._error(response, "RingCentral cancel")

    # -- helpers ------------------------------------------------------------------------------

    def _call_url(self, placement: Placement) -> str:
        if not placement.reference:
            raise ProviderError("no ring-out id to ask about", retryable=False)
        return f"{self.url}/{quote(placement.reference, safe='')}"

    def _secrets(self) -> tuple[str, ...]:
        """What must never be quoted: our credentials and the access token they bought."""
        values = (self.settings.client_secret, self.settings.jwt, self.tokens.current)
        return tuple(v for v in values if v)

    def _error(self, response: requests.Response, what: str) -> ProviderError:
        code = response.status_code
        text = snippet(response.text, self._secrets())
        if code == 403:
            refusal = next((word for word in DESTINATION_REFUSALS if word in response.text), None)
            if refusal:
                return ProviderError(
                    f"{what} will not dial this number: {refusal}",
                    retryable=False,
                    http_status=code,
                )
            return ProviderError(
                f"{what} refused (HTTP 403: check CALLGATE_RINGCENTRAL_CALLER_ID, the app's "
                f"RingOut permission and the account's funds): {text}",
                retryable=False,
                http_status=code,
                config_fault=True,
            )
        error = status_error(response, what, self._secrets())
        if code == 429 and error.retry_after is None:
            error.retry_after = 60.0  # RingCentral's usual penalty window, when it does not say
        return error


def call_state(status: dict[str, Any]) -> CallState:
    """Map RingOut's ``callStatus``/``callerStatus``/``calleeStatus`` onto a lead status.

    ``caller`` is our agent's leg (``from``, rung first), ``callee`` the visitor's. A leg that
    failed (Busy, NoAnswer, Rejected…) ends the call with that leg's word as the reason. While
    ``callStatus`` is ``InProgress`` anything else is still ringing; once it is final, any leg
    value we do not know is kept, as written, as the reason. An unknown ``callStatus`` is not
    guessed at: the lead stays placed and is asked about again until the poll time runs out.
    """
    call = _word(status.get("callStatus"))
    legs = (
        ("caller", _word(status.get("callerStatus"))),
        ("callee", _word(status.get("calleeStatus"))),
    )
    raw = f"call={call or '?'} caller={legs[0][1] or '?'} callee={legs[1][1] or '?'}"
    for leg, value in legs:
        if value in LEG_FAILURES:
            return CallState("failed", f"{leg} {value}", raw)
    if call == "InProgress":
        return CallState("placed", None, raw)
    if call in ANSWERED or call in CALL_FINAL:
        for leg, value in legs:
            if value not in LEG_FINE:
                return CallState("failed", f"{leg} {value}", raw)
        if call in CALL_FINAL:
            return CallState("failed", f"call {call}", raw)
        if legs[1][1] in ("", *ANSWERED):
            return CallState("connected", None, raw)
    return CallState("placed", None, raw)


def _word(value: Any) -> str:
    """A status word as RingCentral wrote it, bounded, for storing and logging."""
    return "" if value is None else str(value)[:40]


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
