"""``callgate webhooks test`` and ``callgate notify test`` against loopback receivers."""

from __future__ import annotations

import base64
from pathlib import Path

from click.testing import CliRunner
from standardwebhooks import Webhook

from service.cli import main
from tests.fakes.provider import FakeProvider

SECRET = "whsec_" + base64.b64encode(b"c" * 32).decode()


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_webhooks_test_sends_a_signed_ping(channel: FakeProvider) -> None:
    code, output = run(
        {
            "CALLGATE_WEBHOOK_URL": f"{channel.url}/hook",
            "CALLGATE_WEBHOOK_SECRET": SECRET,
        },
        "webhooks",
        "test",
    )
    assert code == 0, output
    assert "delivered: " in output and "NOT" not in output
    [received] = channel.wait_for(1)
    assert Webhook(SECRET).verify(received.body, received.headers)["type"] == "ping"
    assert received.headers["webhook-id"] in output
    assert "/hook" not in output  # the host is shown, not the path


def test_webhooks_test_fails_when_the_receiver_refuses(channel: FakeProvider) -> None:
    channel.set(statuses=[401], body=lambda _: {})
    env = {"CALLGATE_WEBHOOK_URL": f"{channel.url}/hook", "CALLGATE_WEBHOOK_SECRET": SECRET}
    code, output = run(env, "webhooks", "test")
    assert code == 1
    assert "NOT delivered" in output and "HTTP 401" in output


def test_webhooks_test_without_a_url() -> None:
    code, output = run({}, "webhooks", "test")
    assert code == 1 and "CALLGATE_WEBHOOK_URL is not set" in output


def test_notify_test_reaches_each_channel_in_its_language(channel: FakeProvider) -> None:
    url = f"json://127.0.0.1:{channel.port}/alerts/token-0123456789abcdef"
    code, output = run(
        {"CALLGATE_NOTIFY_URLS": url, "CALLGATE_NOTIFY_LANG": "uk"}, "notify", "test"
    )
    assert code == 0, output
    assert "json channel" in output and ": sent" in output
    assert "token-0123456789abcdef" not in output
    [received] = channel.wait_for(1)
    assert received.json()["title"] == "callgate: тестове повідомлення"


def test_webhooks_list_and_replay_read_the_outbox(channel: FakeProvider, tmp_path: Path) -> None:
    from service.config import EventSettings, Settings
    from service.events.handlers import EventHandlers
    from service.events.hook import outbox_for
    from service.leads import Lead, LeadStore
    from service.tasks import TaskRunner

    url = f"sqlite:///{tmp_path}/callgate.db"
    hook = f"{channel.url}/hook"
    env = {
        "CALLGATE_DATABASE_URL": url,
        "CALLGATE_WEBHOOK_URL": hook,
        "CALLGATE_WEBHOOK_SECRET": SECRET,
        "CALLGATE_WEBHOOK_EVENTS": "lead.accepted",
    }
    assert run(env, "db", "upgrade")[0] == 0
    events = EventSettings(
        webhook_urls=(hook,), webhook_secret=SECRET, webhook_events=("lead.accepted",)
    )
    settings = Settings(database_url=url, events=events)
    store = LeadStore(url, outbox=outbox_for(settings))
    runner = TaskRunner(settings, store)
    EventHandlers(settings, store).register(runner)
    try:
        store.insert(Lead(phone="+380671112233", provider="dry-run", status="held"))
        channel.set(statuses=[500], body=lambda _: {})
        assert runner.run_once()  # one try, answered 500: due again in 5 s

        code, output = run(env, "webhooks", "list")
        assert code == 0, output
        [header, row] = output.strip().splitlines()
        assert header.split("\t") == [
            "id",
            "event",
            "host",
            "attempts",
            "state",
            "next try",
            "last error",
        ]
        task_id, event, host, attempts, state, next_try, error = row.split("\t")
        assert (event, host, attempts, state) == ("lead.accepted", channel.url, "1", "pending")
        assert next_try != "-" and error == f"{channel.url}: HTTP 500"
        assert run(env, "webhooks", "list", "--failed")[1].strip().count("\n") == 0

        channel.set(statuses=[200], body=lambda _: {})
        code, output = run(env, "webhooks", "replay", task_id)
        assert code == 0, output
        assert runner.run_once()  # the replay, due now (the original waits its 5 s)
        first, again = channel.wait_for(2)
        assert first.headers["webhook-id"] == again.headers["webhook-id"]
        assert again.headers["webhook-id"] in output
        assert run(env, "webhooks", "replay", "999")[0] == 1
    finally:
        store.close()
