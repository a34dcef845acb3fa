"""The ``callgate`` command: serve, worker, db upgrade, and lead operations for operators."""

from __future__ import annotations

import csv
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

import click

from .config import ConfigError, Settings
from .leads import Lead, LeadStore, migrate
from .phone import mask

F = TypeVar("F", bound=Callable[..., Any])


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        click.echo(f"callgate: configuration error: {error}", err=True)
        sys.exit(2)


def _with_store(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        store = LeadStore(_settings().database_url)
        try:
            return func(store, *args, **kwargs)
        finally:
            store.close()

    return wrapper  # type: ignore[return-value]


@click.group()
def main() -> None:
    """callgate: website call-back requests become phone calls."""


@main.command()
def serve() -> None:
    """Run the web service under gunicorn (migrates the database first)."""
    from gunicorn.app.base import BaseApplication

    from .server import gunicorn_options, share_generated_secret

    settings = _settings()
    share_generated_secret(settings)

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in gunicorn_options(settings).items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from . import create_app

            return create_app()

    Server().run()


@main.command()
def worker() -> None:
    """Dispatch leads in this process (CALLGATE_DISPATCHER=external in production)."""
    from .dispatch import Dispatcher
    from .logs import configure_logging
    from .providers import build_provider

    settings = _settings()
    configure_logging(settings.log_level, settings.secret_values())
    store = LeadStore(settings.database_url)
    migrate(store)
    dispatcher = Dispatcher(settings, store, build_provider(settings))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    dispatcher.start()
    stop.wait()
    dispatcher.stop(timeout=20)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@_with_store
def db_upgrade(store: LeadStore) -> None:
    """Create or migrate the schema to the newest revision."""
    migrate(store)
    click.echo("database is up to date")


@main.group()
def leads() -> None:
    """Inspect and act on leads."""


@leads.command("list")
@click.option("--status", help="Only leads in this status.")
@click.option("--limit", default=50, show_default=True)
@_with_store
def leads_list(store: LeadStore, status: str | None, limit: int) -> None:
    """The newest leads, one line each (numbers masked)."""
    for lead in store.list(status=status, limit=limit):
        flag = "" if lead.confirmed else " (unconfirmed)"
        click.echo(
            f"{lead.id}  {lead.created_at:%Y-%m-%d %H:%M:%S}  {lead.status:<11}{flag}  "
            f"{mask(lead.phone)}  attempts={lead.attempt_count}  {lead.last_error or ''}".rstrip()
        )


@leads.command("show")
@click.argument("lead_id")
@_with_store
def leads_show(store: LeadStore, lead_id: str) -> None:
    """Every field of one lead, and its attempts."""
    lead = store.get(lead_id, with_attempts=True)
    if lead is None:
        raise click.ClickException(f"no lead {lead_id}")
    for column in Lead.__table__.columns:
        click.echo(f"{column.name:>16}: {getattr(lead, column.name)}")
    for attempt in lead.attempts:
        click.echo(
            f"attempt {attempt.id}: {attempt.started_at:%H:%M:%S} {attempt.outcome} "
            f"http={attempt.http_status} {attempt.duration_ms}ms {attempt.error or ''}".rstrip()
        )


@leads.command("cancel")
@click.argument("lead_id")
def leads_cancel(lead_id: str) -> None:
    """Stop a lead: a queued one is never called, a ringing one is hung up (RingCentral)."""
    from .providers import build_provider
    from .tracking import CancelRefused, cancel_lead

    settings = _settings()
    store = LeadStore(settings.database_url)
    try:
        click.echo(cancel_lead(store, build_provider(settings), lead_id))
    except CancelRefused as refused:
        raise click.ClickException(str(refused)) from None
    finally:
        store.close()


@leads.command("retry")
@click.argument("lead_id")
@_with_store
def leads_retry(store: LeadStore, lead_id: str) -> None:
    """Queue a failed (or unconfirmed) lead once more."""
    if not store.retry(lead_id):
        raise click.ClickException(f"lead {lead_id} is not failed or placed, or does not exist")
    click.echo(f"lead {lead_id} queued")


EXPORT_COLUMNS = (
    "created_at",
    "status",
    "phone",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "client_id",
    "page_url",
    "placed_at",
)


@leads.command("export")
@click.option(
    "--since",
    required=True,
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="UTC date (YYYY-MM-DD) or time.",
)
@_with_store
def leads_export(store: LeadStore, since: datetime) -> None:
    """CSV for analysts: time, status, masked number, UTM fields, client ID, page."""
    writer = csv.writer(sys.stdout)
    writer.writerow(EXPORT_COLUMNS)
    for lead in reversed(store.list(since=since.replace(tzinfo=UTC))):
        row = []
        for column in EXPORT_COLUMNS:
            value = getattr(lead, column)
            if column == "phone":
                value = mask(value)
            elif isinstance(value, datetime):
                value = value.isoformat(timespec="seconds")
            row.append("" if value is None else value)
        writer.writerow(row)


if __name__ == "__main__":
    main()
