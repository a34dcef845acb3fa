"""``callgate webhooks test`` and ``callgate notify test`` against loopback receivers."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook

from service.cli import main
from tests.fakes.provider import FakeProvider

SECRET = "whsec_" + base64.b64encode(b"c" * 32).decode()


@pytest.fixture
def receiver() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    fake.set(statuses=[200], body=lambda _: {})
    yield fake
    fake.stop()


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_webhooks_test_sends_a_signed_ping(receiver: FakeProvider) -> None:
    code, output = run(
        {
            "CALLGATE_WEBHOOK_URL": f"{receiver.url}/hook",
            "CALLGATE_WEBHOOK_SECRET": SECRET,
        },
        "webhooks",
        "test",
    )
    assert code == 0, output
    assert "delivered: " in output and "NOT" not in output
    [received] = receiver.wait_for(1)
    assert Webhook(SECRET).verify(received.body, received.headers)["type"] == "ping"
    assert received.headers["webhook-id"] in output
    assert "/hook" not in output  # the host is shown, not the path


def test_webhooks_test_fails_when_the_receiver_refuses(receiver: FakeProvider) -> None:
    receiver.set(statuses=[401], body=lambda _: {})
    env = {"CALLGATE_WEBHOOK_URL": f"{receiver.url}/hook", "CALLGATE_WEBHOOK_SECRET": SECRET}
    code, output = run(env, "webhooks", "test")
    assert code == 1
    assert "NOT delivered" in output and "HTTP 401" in output


def test_webhooks_test_without_a_url() -> None:
    code, output = run({}, "webhooks", "test")
    assert code == 1 and "CALLGATE_WEBHOOK_URL is not set" in output


def test_notify_test_reaches_each_channel_in_its_language(receiver: FakeProvider) -> None:
    url = f"json://127.0.0.1:{receiver.port}/alerts/token-0123456789abcdef"
    code, output = run(
        {"CALLGATE_NOTIFY_URLS": url, "CALLGATE_NOTIFY_LANG": "uk"}, "notify", "test"
    )
    assert code == 0, output
    assert "json channel" in output and ": sent" in output
    assert "token-0123456789abcdef" not in output
    [received] = receiver.wait_for(1)
    assert received.json()["title"] == "callgate: тестове повідомлення"
