"""Alerts for people: what one says, how a burst is grouped, and when a channel may send again.

All pure functions. The queue keeps each channel's pending alerts and its last send; a
``send_alert`` task per channel, due at :func:`next_send_at`, takes every pending alert,
:func:`compose` s them into one message and sends it (:func:`service.events.notify.notify`).
So an incident of a hundred failures is one message a minute per channel, with the count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import NOTIFY_LANGS, Settings
from ..phone import mask
from .alert_texts import TEXTS
from .payload import field, iso

# At most one message a minute per channel.
SEND_INTERVAL = timedelta(minutes=1)
# A grouped message lists this many alerts and counts the rest.
MAX_LISTED = 10
# Faults of the service itself alert whatever CALLGATE_NOTIFY_ON says: a lost delivery is an
# incident nobody would otherwise see.
ALWAYS = ("webhook_failed",)
_MAX_NAME = 60
_MAX_REASON = 300
_MAX_PAGE = 200


@dataclass(frozen=True)
class Alert:
    """One thing to tell people. ``phone`` is already masked: an alert never holds the number."""

    kind: str
    lead_id: str | None = None
    phone: str | None = None
    name: str | None = None
    status: str | None = None
    reason: str | None = None
    page_url: str | None = None
    at: str | None = None  # RFC 3339, UTC

    def to_payload(self) -> dict[str, Any]:
        """A JSON-able dict for the queue."""
        return asdict(self)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Alert:
        def text(name: str) -> str | None:
            value = data.get(name)
            return None if value is None else str(value)

        return cls(
            kind=str(data["kind"]),
            lead_id=text("lead_id"),
            phone=text("phone"),
            name=text("name"),
            status=text("status"),
            reason=text("reason"),
            page_url=text("page_url"),
            at=text("at"),
        )


def wanted(settings: Settings, kind: str) -> bool:
    """Whether ``kind`` alerts anyone: channels are configured and the kind is asked for."""
    events = settings.events
    return bool(events.notify_urls) and (kind in events.notify_on or kind in ALWAYS)


def alert_for(
    lead: object, kind: str, *, reason: str | None = None, at: datetime | None = None
) -> Alert:
    """The alert about a lead: masked number, name, status, reason, page."""
    phone = field(lead, "phone")
    return Alert(
        kind=kind,
        lead_id=_short(field(lead, "id"), 64),
        phone=mask(str(phone)) if phone else None,
        name=_short(field(lead, "name"), _MAX_NAME),
        status=_short(field(lead, "status"), 32),
        reason=_short(reason or field(lead, "reason") or field(lead, "last_error"), _MAX_REASON),
        page_url=_short(field(lead, "page_url"), _MAX_PAGE),
        at=iso(at or datetime.now(UTC)),
    )


def service_alert(kind: str, reason: str, *, at: datetime | None = None) -> Alert:
    """An alert about the service, not a lead (provider_fault, budget, webhook_failed)."""
    return Alert(kind=kind, reason=_short(reason, _MAX_REASON), at=iso(at or datetime.now(UTC)))


def compose(alerts: Sequence[Alert], lang: str) -> tuple[str, str]:
    """One message (title, body) for every pending alert of a channel, oldest first."""
    if not alerts:
        raise ValueError("nothing to compose")
    texts = TEXTS[lang if lang in NOTIFY_LANGS else "en"]
    if len(alerts) == 1:
        alert = alerts[0]
        title = texts["title_one"].format(kind=_kind(texts, alert.kind))
        return title, "\n".join(_detail_lines(texts, alert))
    title = texts["title_many"].format(count=len(alerts))
    counts = Counter(alert.kind for alert in alerts)
    lines = [", ".join(f"{_kind(texts, kind)}: {n}" for kind, n in counts.items()), ""]
    lines += [_summary_line(texts, alert) for alert in alerts[:MAX_LISTED]]
    if len(alerts) > MAX_LISTED:
        lines.append(texts["more"].format(count=len(alerts) - MAX_LISTED))
    return title, "\n".join(lines)


def next_send_at(last_sent_at: datetime | None, now: datetime) -> datetime:
    """When a channel may send its next message: now, or a minute after its last one."""
    if last_sent_at is None:
        return now
    return max(now, last_sent_at + SEND_INTERVAL)


def may_send(last_sent_at: datetime | None, now: datetime) -> bool:
    return next_send_at(last_sent_at, now) <= now


def hint(lead_id: str) -> str:
    return f"callgate leads show {lead_id}"


def _kind(texts: Mapping[str, str], kind: str) -> str:
    return texts.get(kind, kind)


def _who(alert: Alert) -> str:
    return " · ".join(part for part in (alert.phone, alert.name) if part)


def _detail_lines(texts: Mapping[str, str], alert: Alert) -> list[str]:
    lines = [_who(alert)] if _who(alert) else []
    if alert.status:
        lines.append(f"{texts['status']}: {alert.status}")
    if alert.reason:
        lines.append(f"{texts['reason']}: {alert.reason}")
    if alert.page_url:
        lines.append(f"{texts['page']}: {alert.page_url}")
    if alert.lead_id:
        lines.append(f"{texts['details']}: {hint(alert.lead_id)}")
    return lines


def _summary_line(texts: Mapping[str, str], alert: Alert) -> str:
    parts = [_kind(texts, alert.kind), _who(alert), alert.reason or "", ""]
    if alert.lead_id:
        parts[-1] = hint(alert.lead_id)
    return "• " + " — ".join(part for part in parts if part)


def _short(value: object, limit: int) -> str | None:
    if value is None or value == "":
        return None
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
