"""A CAPTCHA vendor on loopback: its explicit-render script and its siteverify endpoint.

The script plays Turnstile (``window.turnstile``) or hCaptcha (``window.hcaptcha``) with the
calls the widget makes: ``render(el, options)`` draws a button that "solves" the challenge (it
calls ``options.callback`` with a fresh token), ``reset``, ``getResponse`` and ``remove``, and
it calls the function named by the script URL's ``onload`` parameter once it is ready, as both
vendors do. For tests it records what it was asked in ``window.__fakeCaptcha`` and can expire
a token (``__fakeCaptcha.expire()``). ``POST /siteverify`` answers like both vendors: form
fields ``secret``, ``response``, ``remoteip`` in, ``{"success": ...}`` out.

hCaptcha's button, like the real checkbox, opens an image challenge: a pop-up laid over the page
(fixed, topmost z-index) that hCaptcha appends to the element whose id its ``challenge-container``
option names, else to ``document.body``. Its button (``CHALLENGE``) issues the token. Appended
to the body while a modal ``<dialog>`` is open, it is inert and under the dialog's backdrop, as
the real one is.

``hold()`` keeps every script request waiting (recorded at once) until ``release()``, or for
good: a vendor that accepts the connection and never answers.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers import wait_until

SOLVE = "I am human"
CHALLENGE = "Verify: select every image with a bus"
# How long a held script request waits at most (a test's browser is long gone by then).
HOLD_LIMIT = 60.0
SCRIPTS = {"/turnstile/v0/api.js": "turnstile", "/1/api.js": "hcaptcha"}

FAKE_SCRIPT = """(() => {
  const src = new URL(document.currentScript.src);
  const record = (window.__fakeCaptcha = { renders: [], resets: 0, removed: 0, widgets: {} });
  let next = 0, issued = 0;
  window['%(name)s'] = {
    render(el, options) {
      const id = 'fake-' + next++;
      const w = { options, token: '' };
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = '%(solve)s';
      const solved = () => {
        w.token = 'fake-token-' + ++issued;
        options.callback(w.token);
      };
      button.addEventListener('click', '%(name)s' == 'hcaptcha' ? () => {
        const named = options['challenge-container'];
        const into = (named && document.getElementById(named)) || document.body;
        const pop = document.createElement('div');
        pop.dataset.fakeChallenge = '';
        pop.style.cssText = 'position:fixed;top:30%%;left:30%%;z-index:2147483647;'
          + 'padding:2em;background:#eee';
        const verify = document.createElement('button');
        verify.type = 'button';
        verify.textContent = '%(challenge)s';
        verify.addEventListener('click', () => { pop.remove(); solved(); });
        pop.append(verify);
        into.append(pop);
      } : solved);
      el.append(button);
      record.widgets[id] = w;
      const plain = {};
      for (const k in options) if (typeof options[k] != 'function') plain[k] = options[k];
      plain.callbacks = Object.keys(options).filter((k) => typeof options[k] == 'function').sort();
      record.renders.push(plain);
      return id;
    },
    reset(id) { record.widgets[id].token = ''; record.resets++; },
    getResponse(id) { return record.widgets[id].token; },
    remove(id) { delete record.widgets[id]; record.removed++; },
  };
  record.expire = () => {
    for (const id in record.widgets) {
      const w = record.widgets[id];
      w.token = '';
      w.options['expired-callback']();
    }
  };
  const ready = src.searchParams.get('onload');
  if (ready) setTimeout(() => window[ready](), 0);
})();
"""


@dataclass
class Verified:
    secret: str
    response: str
    remoteip: str


class FakeCaptcha:
    def __init__(self) -> None:
        self.accept = True
        self.verified: list[Verified] = []
        self.scripts: list[str] = []  # paths with query of every script request
        self._lock = threading.Lock()
        self._held: threading.Event | None = None  # set: held script requests answer
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, content_type: str, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                name = SCRIPTS.get(urlsplit(self.path).path)
                with fake._lock:
                    fake.scripts.append(self.path)
                    held = fake._held
                if held is not None:
                    held.wait(HOLD_LIMIT)
                if name is None:
                    self._send(404, "text/plain", b"not here")
                    return
                script = FAKE_SCRIPT % {"name": name, "solve": SOLVE, "challenge": CHALLENGE}
                self._send(200, "text/javascript", script.encode())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with fake._lock:
                    fake.verified.append(
                        Verified(
                            form.get("secret", ""),
                            form.get("response", ""),
                            form.get("remoteip", ""),
                        )
                    )
                    accept = fake.accept
                answer: dict[str, Any] = {"success": accept}
                if not accept:
                    answer["error-codes"] = ["invalid-input-response"]
                self._send(200, "application/json", json.dumps(answer).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script_url(self, vendor: str) -> str:
        """The vendor's explicit-render script, as CALLGATE_CAPTCHA_SCRIPT_URL gives it."""
        path = {v: p for p, v in SCRIPTS.items()}[vendor]
        return f"{self.url}{path}?render=explicit"

    def start(self) -> FakeCaptcha:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def hold(self) -> None:
        """Script requests from now on wait for :meth:`release` (or stay unanswered)."""
        with self._lock:
            self._held = threading.Event()

    def release(self) -> None:
        """Answer the held script requests, and the next ones at once."""
        with self._lock:
            held, self._held = self._held, None
        if held is not None:
            held.set()

    def seen(self, path: str, timeout: float = 10.0) -> None:
        """Wait until a script request for ``path`` (with its query) has arrived."""

        def arrived() -> bool:
            with self._lock:
                return path in self.scripts

        wait_until(arrived, timeout, f"a request for {path}")

    def clear(self) -> None:
        self.release()
        with self._lock:
            self.accept = True
            self.verified.clear()
            self.scripts.clear()

    def responses(self) -> list[str]:
        """The tokens the service asked about, in order."""
        with self._lock:
            return [v.response for v in self.verified]
