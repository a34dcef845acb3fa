"""While1 Voice PBX: ``POST {url}/api/originate-call`` (``reference/pbx-originate-call-api.txt``).

The PBX rings the agent (``type`` user, queue or context; ``destination``), then dials the
visitor. The request is a form post of ``api_username``, ``api_password``, ``data[...]`` and
``api_hash = md5(http_build_query(params) . api_key)``: the PBX rebuilds the query in PHP and
compares, so the body is exactly :func:`~.phpquery.http_build_query`'s string plus the hash.

Answers: ``{"has_error": false, "results": [...]}`` is placed; ``has_error: true`` is a refusal
carrying ``messages`` (a bad queue will not fix itself: permanent). 5xx and connection failures
are retried; a 2xx we cannot read may have started the call, so it is not retried either.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import phonenumbers
import requests

from ..config import PbxSettings
from .base import (
    CallRequest,
    HttpClient,
    Placement,
    ProviderError,
    snippet,
    status_error,
)
from .phpquery import http_build_query, urlencode

FORM = "application/x-www-form-urlencoded"
MASK = "***"  # what describe() shows instead of a secret
MAX_NAME = 64


class Pbx:
    name = "pbx"
    destination: str | None = None  # no single number or SIP login we could route to

    def __init__(self, settings: PbxSettings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    # -- the request --------------------------------------------------------------------------

    def params(self, call: CallRequest) -> dict[str, Any]:
        """The PHP array the PBX expects, in its documented order; None is left out."""
        s = self.settings
        return {
            "api_username": s.api_username,
            "api_password": s.api_password,
            "data": {
                "project_id": s.project_id,
                "caller_id": dialled_number(call.phone, s.caller_id_format, s.home_region),
                "caller_id_name": (call.name or "").strip()[:MAX_NAME] or s.default_caller_name,
                "type": s.type,
                "destination": s.destination,
                "external_id": call.lead_id,
                "async": s.is_async,
                "outbound_number": s.outbound_number or None,
                "outbound_trunk": s.outbound_trunk or None,
                "vars": {
                    "SKIP_WELCOME": s.skip_welcome,
                    "SKIP_WE_ARE_RECORDING": s.skip_we_are_recording,
                    "SKIP_ENTER_QUEUE": s.skip_enter_queue,
                    "BACKEND_LINK": backend_link(s.backend_link, call.lead_id),
                },
            },
        }

    def body(self, call: CallRequest) -> str:
        """The signed form body: the query the hash covers, then the hash."""
        query = http_build_query(self.params(call))
        digest = hashlib.md5((query + self.settings.api_key).encode(), usedforsecurity=False)
        return f"{query}&api_hash={digest.hexdigest()}"

    def prepare(self, call: CallRequest) -> requests.PreparedRequest:
        return requests.Request(
            "POST",
            f"{self.settings.url}/api/originate-call",
            headers={"Content-Type": FORM, "Accept": "application/json"},
            data=self.body(call).encode(),
        ).prepare()

    def describe(self, call: CallRequest) -> dict[str, Any]:
        params = {**self.params(call), "api_password": MASK}
        return {
            "method": "POST",
            "url": f"{self.settings.url}/api/originate-call",
            "headers": {"Content-Type": FORM},
            "body": {**params, "api_hash": MASK},
        }

    # -- the answer ---------------------------------------------------------------------------

    def place(self, call: CallRequest) -> Placement:
        response = self.http.send(self.prepare(call))
        if not response.ok:
            raise status_error(response, "the PBX", self._secrets())
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("has_error"), bool):
            # A 2xx that is not the API's answer (a proxy page, a truncated body): the call may
            # have been originated, so it is not sent again.
            raise ProviderError(
                f"the PBX answered HTTP {response.status_code} without has_error: "
                f"{snippet(response.text, self._secrets())}",
                retryable=False,
                http_status=response.status_code,
                outcome_unknown=True,
            )
        if answer["has_error"]:
            raise ProviderError(
                f"the PBX refused the call: {self._words(answer.get('messages'))}",
                retryable=False,
                http_status=response.status_code,
            )
        return Placement(
            http_status=response.status_code,
            detail={"results": self._words(answer.get("results"))},
        )

    def _words(self, value: Any) -> str:
        items = value if isinstance(value, list) else [value] if value else []
        return snippet("; ".join(str(item) for item in items), self._secrets()) or "(no message)"

    def _secrets(self) -> tuple[str, ...]:
        """Our secrets as written, and as an echoed form body would spell them."""
        s = self.settings
        plain = tuple(v for v in (s.api_password, s.api_key) if v)
        return plain + tuple(urlencode(v) for v in plain) + tuple(quote(v) for v in plain)


def dialled_number(e164: str, style: str, home_region: str) -> str:
    """The visitor's number as the PBX's outbound rules want it (``CALLGATE_PBX_CALLER_ID_FORMAT``).

    ``national`` dials a home-region number the way a local phone would (``0671112233``);
    a foreign number then needs the international prefix, ``00`` in most of the world.
    """
    digits = e164.lstrip("+")
    if style == "e164":
        return "+" + digits
    if style == "digits":
        return digits
    if style == "00":
        return "00" + digits
    number = phonenumbers.parse(e164, None)
    if phonenumbers.region_code_for_number(number) != home_region and (
        number.country_code != phonenumbers.country_code_for_region(home_region)
    ):
        return "00" + digits
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(ch for ch in national if ch.isdigit())


def backend_link(template: str, lead_id: str) -> str | None:
    """``CALLGATE_PBX_BACKEND_LINK`` with the lead's id; None (not sent) when unset."""
    return template.replace("{lead_id}", quote(lead_id, safe="")) if template else None
