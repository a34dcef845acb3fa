"""Ringostat SIP status: which SIP logins are online, and which are speaking.

See ``reference/ringostat-sip-status-api.ru.txt``. Each method is a ``GET`` with the
``Auth-key`` header that answers a JSON array of SIP logins:

* ``/sipstatus/online`` — logins registered from any SIP device;
* ``/sipstatus/online?project_id=…&token=…&withRspDoNotDisturbSips=…`` — logins online in the
  Ringostat Smart Phone browser extension (the "Smart Phone variant");
* ``/sipstatus/speaking`` — logins on a call right now.

This module only talks HTTP; caching and sharing live in :mod:`service.agents`. The Smart Phone
token rides in the query string, so no message here ever contains a URL.
"""

from __future__ import annotations

from typing import Any

import requests

from ..config import AgentSettings, RingostatSettings
from .base import HttpClient, ProviderError, status_error

WHAT = "Ringostat SIP status"


class SipStatusClient:
    """The three SIP-status reads, each one HTTP request, errors as :class:`ProviderError`."""

    def __init__(
        self, ringostat: RingostatSettings, agents: AgentSettings, http: HttpClient
    ) -> None:
        self.ringostat = ringostat
        self.agents = agents
        self.http = http

    def online(self) -> frozenset[str]:
        """Online logins from the configured source(s): SIP devices, Smart Phone, or both."""
        found: frozenset[str] = frozenset()
        if self.agents.source in ("sip", "both"):
            found |= self._get("/sipstatus/online")
        if self.agents.source in ("smart-phone", "both"):
            found |= self._get("/sipstatus/online", self.smart_phone_params())
        return found

    def speaking(self) -> frozenset[str]:
        """Logins that are on a call now."""
        return self._get("/sipstatus/speaking")

    def smart_phone_params(self) -> dict[str, str]:
        return {
            "project_id": self.ringostat.project_id,
            "token": self.agents.smart_phone_token,
            "withRspDoNotDisturbSips": "true" if self.agents.with_dnd else "false",
        }

    def prepare(self, path: str, params: dict[str, str] | None = None) -> requests.PreparedRequest:
        return requests.Request(
            "GET",
            f"{self.ringostat.api_url}{path}",
            headers={"Auth-key": self.ringostat.auth_key, "Accept": "application/json"},
            params=params or None,
        ).prepare()

    def _get(self, path: str, params: dict[str, str] | None = None) -> frozenset[str]:
        response = self.http.send(self.prepare(path, params))
        if not response.ok:
            raise status_error(response, WHAT)
        return _logins(response)


def _logins(response: requests.Response) -> frozenset[str]:
    """The answer must be a JSON array of strings; anything else is a fault, not "nobody"."""
    try:
        answer: Any = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, list) or not all(isinstance(item, str) for item in answer):
        raise ProviderError(
            f"{WHAT} answered something other than a list of SIP logins",
            retryable=True,
            http_status=response.status_code,
        )
    return frozenset(item.strip() for item in answer if item.strip())
