"""Answers for :class:`~tests.fakes.provider.FakeProvider` that play each provider's API.

Each is a ``body`` callable: it sees the request that arrived and returns the JSON to answer.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from tests.fakes.provider import Received

RING_OUT = "/restapi/v1.0/account/~/extension/~/ring-out"


class FakeRingCentral:
    """Signs in, accepts ring-outs, and reports each one ringing once, then connected."""

    token = "fake-access-token-0123456789"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._polls: dict[str, int] = {}
        self._next_id = 1000

    def __call__(self, received: Received) -> Any:
        if received.path == "/restapi/oauth/token":
            return {"access_token": self.token, "token_type": "bearer", "expires_in": 3600}
        if received.headers.get("Authorization") != f"Bearer {self.token}":
            return {"errorCode": "AGW-401", "message": "not signed in"}
        if received.method == "POST" and received.path == RING_OUT:
            with self._lock:
                self._next_id += 1
                ring_out_id = str(self._next_id)
                self._polls[ring_out_id] = 0
            return self._answer(ring_out_id, "InProgress", "InProgress")
        match = re.fullmatch(re.escape(RING_OUT) + r"/(\d+)", received.path)
        if match and received.method == "GET":
            with self._lock:
                self._polls[match.group(1)] = polls = self._polls.get(match.group(1), 0) + 1
            if polls == 1:
                return self._answer(match.group(1), "InProgress", "InProgress")
            return self._answer(match.group(1), "Success", "Success")
        return {"errorCode": "CMN-102", "message": "not found"}

    @staticmethod
    def _answer(ring_out_id: str, call: str, callee: str) -> dict[str, Any]:
        return {
            "id": ring_out_id,
            "uri": f"{RING_OUT}/{ring_out_id}",
            "status": {"callStatus": call, "callerStatus": "Success", "calleeStatus": callee},
        }


def pbx_originated(received: Received) -> dict[str, Any]:
    """While1 Voice accepting an originate-call."""
    return {"has_error": False, "messages": [], "results": ["Call successfully originated"]}


def ringostat_simple_ok(received: Received) -> dict[str, Any]:
    """The simple callback's answer carries nothing we read; a 2xx is what counts."""
    return {}
