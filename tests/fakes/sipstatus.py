"""Ringostat on loopback: the SIP-status API answering logins by path, and the callback API.

Both live under one ``CALLGATE_RINGOSTAT_API_URL``, so one fake plays both.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.fakes.provider import FakeProvider, Received


class FakeSipStatus:
    """``/sipstatus/online`` and ``/sipstatus/speaking`` answer the lists set with :meth:`agents`.

    A Smart Phone request (``?project_id=…&token=…``) answers ``smart_phone`` instead; any other
    path (the callback API) answers a JSON-RPC success.
    ``http`` is the underlying server: ``set(statuses=…, delay=…)`` and ``received`` work.
    """

    def __init__(self) -> None:
        self.http = FakeProvider()
        self._lock = threading.Lock()
        self.online: list[str] = []
        self.speaking: list[str] = []
        self.smart_phone: list[str] = []
        self.http.set(body=self._answer)

    def _answer(self, received: Received) -> Any:
        with self._lock:
            if received.path.startswith("/sipstatus/speaking"):
                return list(self.speaking)
            if "token=" in received.path:
                return list(self.smart_phone)
            if received.path.startswith("/sipstatus/online"):
                return list(self.online)
            return {"jsonrpc": "2.0", "id": 1, "result": {"status": "ok"}}

    def agents(
        self,
        online: list[str],
        speaking: list[str] | None = None,
        smart_phone: list[str] | None = None,
    ) -> None:
        with self._lock:
            self.online = online
            self.speaking = speaking or []
            self.smart_phone = smart_phone or []

    def behave(self, **kwargs: Any) -> None:
        """Status codes, delay…, keeping the login answers."""
        self.http.set(body=self._answer, **kwargs)

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def received(self) -> list[Received]:
        return self.http.received

    def status_requests(self) -> list[Received]:
        return [r for r in self.http.received if r.path.startswith("/sipstatus/")]

    def callbacks(self) -> list[Received]:
        return [r for r in self.http.received if not r.path.startswith("/sipstatus/")]

    def start(self) -> FakeSipStatus:
        # A short poll interval: stopping takes 50 ms instead of serve_forever's 500.
        server = self.http.server
        self.http.thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()
