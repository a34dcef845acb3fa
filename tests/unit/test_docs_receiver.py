"""The receiver example in docs/webhooks.md works: verified, de-duplicated, forgeries refused."""

from __future__ import annotations

import base64
import re
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from service.config import EventSettings, Settings
from service.events.payload import build_event
from service.events.webhooks import deliver_webhook, deliveries_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SECRET = "whsec_" + base64.b64encode(b"d" * 32).decode()


@pytest.fixture
def documented_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, types.ModuleType]]:
    [source] = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    monkeypatch.setenv("CALLGATE_WEBHOOK_SECRET", SECRET)
    module = types.ModuleType("receiver")
    exec(compile(source, str(DOC), "exec"), module.__dict__)  # noqa: S102 - our own docs
    server = make_server("127.0.0.1", 0, module.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/callgate", module
    server.shutdown()


def test_the_documented_receiver_takes_a_real_delivery(
    documented_receiver: tuple[str, types.ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    url, module = documented_receiver
    settings = Settings(events=EventSettings(webhook_urls=(url,), webhook_secret=SECRET))
    lead = {"id": "lead-1", "status": "queued", "phone": "+380671112233", "name": "Olena"}
    [delivery] = deliveries_for(settings, build_event("lead.accepted", lead))

    assert deliver_webhook(settings, delivery).delivered
    assert deliver_webhook(settings, delivery, attempt=2).delivered  # a retry: skipped
    assert module.seen == {delivery.webhook_id}
    assert capsys.readouterr().out.count("new lead lead-1") == 1

    wrong = Settings(
        events=EventSettings(
            webhook_urls=(url,), webhook_secret="whsec_" + base64.b64encode(b"x" * 32).decode()
        )
    )
    [forged] = deliveries_for(wrong, build_event("lead.accepted", lead))
    result = deliver_webhook(wrong, forged)
    assert result.outcome == "retry" and result.http_status == 400
