"""``callgate webhooks …`` and ``callgate notify …``: what an operator runs to check the set-up.

``webhooks list`` and ``webhooks replay`` read the outbox: ``deliver_webhook`` tasks on the
lead queue, each with its attempts and last error. Heavy imports (Apprise) wait until a command
runs.
"""

from __future__ import annotations

import click

from ..config import Settings


def _settings() -> Settings:
    from ..cli import _settings as load
    from ..logs import configure_logging

    settings = load()
    configure_logging(settings.log_level, settings.secret_values())
    return settings


@click.group()
def webhooks() -> None:
    """Signed webhooks to the site owner's CRM (CALLGATE_WEBHOOK_URL)."""


@webhooks.command("test")
def webhooks_test() -> None:
    """Send a signed ``ping`` to every webhook URL, once, and say what each answered."""
    from .http import host_of
    from .webhooks import deliver_webhook, ping_deliveries

    settings = _settings()
    deliveries = ping_deliveries(settings)
    if not deliveries:
        raise click.ClickException("CALLGATE_WEBHOOK_URL is not set")
    failures = 0
    for delivery in deliveries:
        # One try: an operator wants the answer now, not after the retry schedule.
        result = deliver_webhook(settings, delivery)
        failures += not result.delivered
        verdict = "delivered" if result.delivered else "NOT delivered"
        click.echo(f"{host_of(delivery.url)}  {delivery.webhook_id}  {verdict}: {result.detail}")
    if failures:
        raise click.ClickException(f"{failures} of {len(deliveries)} URLs did not take the ping")


@webhooks.command("list")
@click.option("--failed", is_flag=True, help="Only deliveries given up on.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="At most this many, newest first.",
)
def webhooks_list(failed: bool, limit: int) -> None:
    """Deliveries: id, event, URL host, attempts, state, next try, last error."""
    from ..cli import operator_store
    from ..tasks.queue import DELIVER_WEBHOOK, GAVE_UP, PENDING
    from .http import host_of

    with operator_store() as store:
        tasks = store.tasks.of_kind(DELIVER_WEBHOOK, GAVE_UP if failed else None, limit)
    click.echo("id\tevent\thost\tattempts\tstate\tnext try\tlast error")
    for task in tasks:
        payload = task.payload or {}
        next_try = f"{task.due_at:%Y-%m-%d %H:%M:%S}Z" if task.state == PENDING else "-"
        columns = (
            task.id,
            payload.get("type", "?"),
            host_of(str(payload.get("url", ""))),
            task.attempts,
            task.state,
            next_try,
            task.last_error or "",
        )
        click.echo("\t".join(str(column) for column in columns))


@webhooks.command("replay")
@click.argument("task_id", type=int)
def webhooks_replay(task_id: int) -> None:
    """Deliver once more (a new task, the same ``webhook-id`` and body)."""
    from ..cli import operator_store
    from ..tasks.queue import DELIVER_WEBHOOK

    with operator_store() as store:
        task = store.tasks.get(task_id)
        if task is None or task.kind != DELIVER_WEBHOOK:
            raise click.ClickException(f"no webhook delivery {task_id}")
        if not task.payload:
            raise click.ClickException(f"delivery {task_id} was purged: nothing to send")
        store.tasks.enqueue(DELIVER_WEBHOOK, task.lead_id, payload=dict(task.payload or {}))
    click.echo(f"delivery {task_id} queued again ({(task.payload or {}).get('webhook_id')})")


@click.group("notify")
def notify_group() -> None:
    """Chat and e-mail alerts through Apprise (CALLGATE_NOTIFY_URLS)."""


@notify_group.command("test")
def notify_test() -> None:
    """Send one test alert to every channel, in CALLGATE_NOTIFY_LANG."""
    from .alerts import compose, service_alert
    from .notify import channel_key, channel_label, notify

    settings = _settings()
    urls = settings.events.notify_urls
    if not urls:
        raise click.ClickException("CALLGATE_NOTIFY_URLS is not set")
    title, body = compose(
        [service_alert("test", "callgate notify test")], settings.events.notify_lang
    )
    failures = 0
    for url in urls:
        result = notify(url, title, body)
        failures += not result.delivered
        verdict = "sent" if result.delivered else "NOT sent"
        click.echo(f"{channel_label(url)} channel {channel_key(url)}: {verdict}")
    if failures:
        raise click.ClickException(f"{failures} of {len(urls)} channels did not take the alert")
