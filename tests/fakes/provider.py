"""A real HTTP server on loopback that plays a telephony provider.

It records every request (method, path, headers, body) and can be told to answer with a
status sequence, to take a while, to hang past the client's timeout, or to stop listening.
``accepted`` counts the calls it would actually have placed, per destination.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Behaviour:
    # Each request takes the next status; the last one repeats.
    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    body: Callable[[Received], Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _caller(received: Received) -> str:
    """The number being called, whatever the provider's wire format."""
    try:
        data = received.json()
        params = data.get("params", {}) if isinstance(data, dict) else {}
        return str(params.get("caller") or data.get("to", {}).get("phoneNumber") or "?")
    except (ValueError, AttributeError):
        form = received.form()
        return form.get("destination") or form.get("data[caller_id]") or "?"


class _Server(ThreadingHTTPServer):
    # socketserver's listen backlog is 5: dozens of dispatch threads connecting at once would
    # overflow it, and a connection dropped after the request went out is an unknown outcome.
    request_queue_size = 128


class FakeProvider:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.behaviour = Behaviour()
        self.received: list[Received] = []
        self.accepted: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._served = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One write per answer and no Nagle delay: headers and body sent separately
            # would stall keep-alive clients on delayed ACKs (about 40 ms).
            wbufsize = 64 * 1024
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received = Received(self.command, self.path, dict(self.headers), body, time.time())
                with fake._lock:
                    fake.received.append(received)
                    behaviour = fake.behaviour
                    status = behaviour.statuses[min(fake._served, len(behaviour.statuses) - 1)]
                    fake._served += 1
                    if 200 <= status < 300:
                        # The provider acts on what it received, whether or not its answer
                        # reaches the client in time.
                        fake.accepted[_caller(received)] += 1
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                answer = (
                    behaviour.body(received)
                    if behaviour.body
                    else {"jsonrpc": "2.0", "id": 1, "result": {"status": "ok"}}
                )
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in behaviour.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = _Server((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> FakeProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set(self, **kwargs: Any) -> None:
        with self._lock:
            self.behaviour = Behaviour(**kwargs)
            self._served = 0

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} requests, got {len(self.received)}")
