"""The ``callgate`` command: serve, worker, db upgrade, and lead operations for operators."""

from __future__ import annotations

import csv
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click
import phonenumbers
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from .attribution import EXPORTED
from .config import ConfigError, Settings, parse_duration
from .database import migrate
from .database.schema import UPGRADE_COMMAND
from .database.schema import state as schema_state
from .events.commands import notify_group, webhooks
from .leads import Lead, LeadStatus, LeadStore, retention
from .leads.lifecycle import STATUSES
from .logs import mask_numbers
from .phone import digest, mask

if TYPE_CHECKING:
    from .hours import OfficeHours

F = TypeVar("F", bound=Callable[..., Any])


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        click.echo(f"callgate: configuration error: {error}", err=True)
        sys.exit(2)


def open_store(settings: Settings) -> LeadStore:
    """The store, with the events its status changes emit (webhooks, alerts, GA4)."""
    from .events.hook import outbox_for

    return LeadStore(settings.database_url, outbox=outbox_for(settings))


@contextmanager
def operator_store(
    settings: Settings | None = None, check_schema: bool = True
) -> Iterator[LeadStore]:
    """The store for an operator's command (``settings``: the command's own, when it read
    them already), its schema checked first: an operator hears in one line that the database
    is behind, unreachable or refusing, never a traceback."""
    try:
        store = open_store(settings or _settings())
    except (SQLAlchemyError, OSError) as exc:  # a URL no driver takes, a folder not made
        raise click.ClickException(f"database error: {_driver_words(exc)}") from None
    try:
        found = schema_state(store.engine) if check_schema else None
        if found is not None and found.behind:
            raise click.ClickException(
                f"the database schema is {found.describe()}: run `{UPGRADE_COMMAND}`"
            )
        yield store
    except DBAPIError as exc:  # unreachable, a permission refused, a table missing after all
        raise click.ClickException(f"database error: {_driver_words(exc)}") from None
    finally:
        store.close()


def _driver_words(exc: Exception) -> str:
    """What the driver said, never SQLAlchemy's rendering (it quotes statements and their
    parameters)."""
    cause = getattr(exc, "orig", None) or exc
    return str(cause).splitlines()[0] if str(cause) else type(cause).__name__


def _with_store(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with operator_store() as store:
            return func(store, *args, **kwargs)

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
    """Run the task queue here: calls, webhooks, alerts, GA4 (CALLGATE_DISPATCHER=external)."""
    from .dispatch import Dispatcher
    from .logs import configure_logging
    from .metrics import files as metrics_files
    from .providers import build_provider

    settings = _settings()
    configure_logging(settings.log_level, settings.secret_values(), settings.log_format)
    # Before any metric is written: counted with the web processes that share the directory.
    metrics_files.claim(settings.metrics.dir, "worker")
    store = open_store(settings)
    migrate(store)
    dispatcher = Dispatcher(settings, store, build_provider(settings))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    dispatcher.start()
    stop.wait()
    dispatcher.stop(timeout=20)
    metrics_files.process_exited(os.getpid())


main.add_command(webhooks)
main.add_command(notify_group)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision."""
    with operator_store(check_schema=False) as store:
        migrate(store)
    click.echo("database is up to date")


@main.group()
def leads() -> None:
    """Inspect and act on leads."""


@leads.command("list")
@click.option(
    "--status", type=click.Choice([s.value for s in STATUSES]), help="Only leads in this status."
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@_with_store
def leads_list(store: LeadStore, status: str | None, limit: int) -> None:
    """The newest leads, one line each (numbers masked)."""
    for lead in store.search(status=status, limit=limit):
        flag = "" if lead.confirmed else " (unconfirmed)"
        if lead.status == LeadStatus.SCHEDULED and lead.scheduled_for:
            flag += f" due {lead.scheduled_for:%Y-%m-%d %H:%M}Z"
        elif lead.status == LeadStatus.HELD and lead.call_at:
            flag += f" asked for {lead.call_at:%Y-%m-%d %H:%M}Z"
        click.echo(
            f"{lead.id}  {lead.created_at:%Y-%m-%d %H:%M:%S}Z  {lead.status:<11}{flag}  "
            f"{mask(lead.phone)}  attempts={lead.attempt_count}  "
            f"{mask_numbers(lead.last_error or '')}".rstrip()
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
            f"attempt {attempt.id}: {attempt.started_at:%Y-%m-%d %H:%M:%S}Z {attempt.outcome} "
            f"http={attempt.http_status} {attempt.duration_ms}ms {attempt.error or ''}".rstrip()
        )
    for task in store.tasks.of_lead(lead_id):
        click.echo(
            f"task {task.id}: {task.kind} {task.state} due {task.due_at:%Y-%m-%d %H:%M:%S}Z "
            f"attempts={task.attempts} {task.last_error or ''}".rstrip()
        )


@leads.command("cancel")
@click.argument("lead_id")
def leads_cancel(lead_id: str) -> None:
    """Stop a lead: a queued one is never called, a ringing one is hung up (RingCentral)."""
    from .providers import build_provider
    from .tracking import CancelRefused, cancel_lead

    settings = _settings()
    provider = build_provider(settings)
    with operator_store(settings) as store:
        try:
            click.echo(cancel_lead(store, provider, lead_id))
        except CancelRefused as refused:
            raise click.ClickException(str(refused)) from None


@leads.command("retry")
@click.argument("lead_id")
@_with_store
def leads_retry(store: LeadStore, lead_id: str) -> None:
    """Queue a failed (or placed but unconfirmed) lead once more."""
    if not store.retry(lead_id):
        lead = store.get(lead_id)
        if lead is None:
            raise click.ClickException(f"no lead {lead_id}")
        if lead.anonymised_at is not None:
            raise click.ClickException(f"lead {lead_id} was anonymised: its number is masked")
        state = f"{lead.status}" + ("" if lead.confirmed else ", unconfirmed")
        raise click.ClickException(
            f"lead {lead_id} is {state}: only a failed lead or an unconfirmed placement is retried"
        )
    click.echo(f"lead {lead_id} queued")


@leads.command("release")
@click.argument("lead_id", required=False)
@click.option("--all", "release_all", is_flag=True, help="Release every held lead.")
def leads_release(lead_id: str | None, release_all: bool) -> None:
    """Let leads held by the daily call budget go (one by id, or --all): each is called now,
    or booked for the time its visitor chose if that is still ahead."""
    from .hours import OfficeHours, release_plan

    if not lead_id and not release_all:
        raise click.UsageError("give a lead id or --all")
    settings = _settings()
    hours = OfficeHours.from_settings(settings.hours)
    with operator_store(settings) as store:
        released = store.release_held(None if release_all else lead_id, release_plan(hours))
        for released_id in released:
            click.echo(_released(store.get(released_id), hours))
        if lead_id and not released:
            lead = store.get(lead_id)
            raise click.ClickException(
                f"lead {lead_id} is {lead.status}: only a held lead is released"
                if lead
                else f"no lead {lead_id}"
            )
    click.echo(f"{len(released)} lead(s) released")


def _released(lead: Lead | None, hours: OfficeHours) -> str:
    """What became of a released lead, in the office's time (the hours this CLI was given)."""
    if lead is None or lead.status != LeadStatus.SCHEDULED or lead.scheduled_for is None:
        return f"lead {lead.id if lead else '?'}: queued, to be called now"
    due = lead.scheduled_for.astimezone(hours.zone)
    moved = "" if lead.call_at == lead.scheduled_for else " (the time chosen had no room left)"
    return f"lead {lead.id}: booked for {due:%Y-%m-%d %H:%M} {hours.timezone}{moved}"


@leads.command("purge")
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="DURATION",
    help="e.g. 90d: anonymise leads created before then.",
)
@_with_store
def leads_purge(store: LeadStore, older_than: str) -> None:
    """Anonymise old leads: mask the number; drop name, comment, IP and user agent."""
    try:
        seconds = parse_duration(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    count, kept = retention.purge(store, datetime.now(UTC) - timedelta(seconds=seconds))
    click.echo(f"{count} lead(s) anonymised")
    if kept:
        click.echo(
            f"{kept} as old still to be called (booked, held or waiting) keep their numbers"
            " until they end; `callgate leads cancel ID` ends one"
        )


@main.group()
def block() -> None:
    """Numbers nobody may ask us to call (stored as keyed hashes)."""


def _number(text: str, settings: Settings) -> str:
    try:
        parsed = phonenumbers.parse(text, settings.default_region)
    except phonenumbers.NumberParseException:
        raise click.BadParameter(f"{text!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(parsed):
        raise click.BadParameter(f"{text!r} is not a phone number")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


@block.command("add")
@click.argument("number")
@click.option("--ttl", default=None, metavar="DURATION", help="e.g. 30d; default: forever.")
@click.option("--reason", default=None)
def block_add(number: str, ttl: str | None, reason: str | None) -> None:
    """Block a number (as typed by a person, in the default region or international)."""
    settings = _settings()
    e164 = _number(number, settings)
    expires = None
    if ttl:
        try:
            expires = datetime.now(UTC) + timedelta(seconds=parse_duration(ttl))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--ttl") from None
    with operator_store(settings) as store:
        store.blocklist.add(digest(e164, settings.secret_key), mask(e164), expires, reason)
    until = f" until {expires:%Y-%m-%d %H:%M} UTC" if expires else ""
    click.echo(f"blocked {mask(e164)}{until}")


@block.command("remove")
@click.argument("number")
def block_remove(number: str) -> None:
    settings = _settings()
    e164 = _number(number, settings)
    with operator_store(settings) as store:
        removed = store.blocklist.remove(digest(e164, settings.secret_key))
    if not removed:
        raise click.ClickException(f"{mask(e164)} was not blocked")
    click.echo(f"unblocked {mask(e164)}")


@block.command("list")
@_with_store
def block_list(store: LeadStore) -> None:
    """Blocked numbers, masked, with their expiry."""
    for row in store.blocklist.entries():
        expires = f"until {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else "forever"
        click.echo(f"{row.masked}  {expires}  {row.reason or ''}".rstrip())


# The attribution's columns come from its declaration (service.attribution), personal ones aside.
EXPORT_COLUMNS = ("created_at", "status", "phone", *EXPORTED, "page_url", "placed_at")
# What a spreadsheet reads as a formula when a cell starts with it (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text: visitors write the UTM fields and the page
    address, and ``=HYPERLINK(…)`` must not run on an analyst's machine."""
    if value is None:
        return ""
    text = value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


@leads.command("export")
@click.option(
    "--since",
    required=True,
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="UTC date (YYYY-MM-DD) or time.",
)
@_with_store
def leads_export(store: LeadStore, since: datetime) -> None:
    """CSV for analysts: time, status, masked number, UTM fields, client ID, click ids, page.
    A cell a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``…) starts with ``'``."""
    writer = csv.writer(sys.stdout)
    writer.writerow(EXPORT_COLUMNS)
    for lead in reversed(store.search(since=since.replace(tzinfo=UTC))):
        values = {column: getattr(lead, column) for column in EXPORT_COLUMNS}
        values["phone"] = mask(lead.phone)
        writer.writerow([_cell(values[column]) for column in EXPORT_COLUMNS])


@main.command()
@click.option(
    "--from",
    "start",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day to show (YYYY-MM-DD, the office's date); default today.",
)
def hours(start: datetime | None) -> None:
    """The office hours of seven days (holidays and special hours marked), the next opening."""
    from .hours import OfficeHours
    from .hours_report import render_week

    office = OfficeHours.from_settings(_settings().hours)
    click.echo(render_week(office, datetime.now(UTC), start.date() if start else None))


if __name__ == "__main__":
    main()
