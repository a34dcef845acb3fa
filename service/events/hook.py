"""The store's outbox: the tasks a lead's move enqueues in its own transaction.

:func:`outbox_for` gives the :class:`~service.leads.LeadStore` an :class:`EventOutbox` when any
webhook, alert channel or GA4 stream is configured, else None: then a status change reads and
writes nothing more than before. What each move emits is :mod:`.emit`'s to say.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import Settings
from ..leads.lifecycle import LeadStatus
from ..tasks.queue import NewTask
from .alerts import wanted
from .emit import STATUS_EVENTS, Outgoing, outgoing, service_outgoing


class EventOutbox:
    """:class:`~service.tasks.queue.Outbox` for these settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Decided once: which statuses (and a new lead) send anything at all.
        self._created = self._any(("lead.accepted",))
        self._statuses = {
            status
            for status, event in STATUS_EVENTS.items()
            if self._any((event, "lead.unconfirmed") if event == "lead.placed" else (event,))
        }

    def _any(self, event_types: tuple[str, ...]) -> bool:
        events = self.settings.events
        for event_type in event_types:
            if events.webhook_urls and event_type in events.webhook_events:
                return True
            if wanted(self.settings, event_type.removeprefix("lead.")):
                return True
            if events.ga4_enabled and event_type in ("lead.accepted", "lead.connected"):
                return True
        return False

    def emits(self, target: LeadStatus, created: bool) -> bool:
        return (created and self._created) or str(target) in self._statuses

    def tasks(self, lead: Mapping[str, Any], target: LeadStatus, created: bool) -> list[NewTask]:
        found = outgoing(self.settings, lead, str(target), created=created)
        return [_task(item, str(lead["id"])) for item in found]

    def service(self, kind: str, reason: str) -> list[NewTask]:
        return [_task(item, None) for item in service_outgoing(self.settings, kind, reason)]


def outbox_for(settings: Settings) -> EventOutbox | None:
    """The outbox, or None when no event goes anywhere (the hot path stays as it was)."""
    events = settings.events
    if events.webhook_urls or events.notify_urls or events.ga4_enabled:
        return EventOutbox(settings)
    return None


def _task(item: Outgoing, lead_id: str | None) -> NewTask:
    return NewTask(item.kind, lead_id, None, item.payload)
