"""Sending an alert through Apprise: one URL is one channel (Telegram, Slack, Teams, e-mail…).

Apprise URLs hold tokens, so a channel is named in logs and in the queue by :func:`channel_key`
(a digest) and :func:`channel_label` (the scheme), never by its URL.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterable

import apprise

from ..logs import RedactingFilter
from .outbox import DeliveryResult, delivered, not_delivered, refused

log = logging.getLogger("callgate.events.notify")


class _AppriseRedaction(RedactingFilter):
    """Apprise's own log lines name the URLs it loads and posts to; we take those pieces out.

    Apprise masks what it knows to be secret, but not, say, a token in a JSON URL's path. So
    every piece of every channel URL is redacted from the ``apprise`` logger, wherever the
    application sends its lines.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def watch(self, urls: Iterable[str]) -> None:
        pieces: set[str] = set(self.secrets)
        for url in urls:
            pieces.add(url)
            pieces.update(re.split(r"[/:@?&=#,;+]+", url.split("://", 1)[-1]))
        with self._lock:
            # Longest first, so a whole URL goes before the pieces inside it.
            self.secrets = tuple(sorted((p for p in pieces if len(p) >= 4), key=len, reverse=True))


_redaction = _AppriseRedaction()
logging.getLogger("apprise").addFilter(_redaction)


def watch_channels(urls: Iterable[str]) -> None:
    """Keep these channel URLs out of Apprise's log lines (called before Apprise sees them)."""
    _redaction.watch(urls)


def channel_key(url: str) -> str:
    """A stable id for a channel that reveals nothing of its URL."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def channel_label(url: str) -> str:
    """``tgram``, ``slack``, ``mailtos``…: the kind of channel, safe to show."""
    return url.split("://", 1)[0].lower() if "://" in url else "?"


def notify(
    url: str, title: str, body: str, *, attempt: int = 1, elapsed: float | None = None
) -> DeliveryResult:
    """Send one message to one channel; not delivered: retry on the outbox schedule."""
    where = f"{channel_label(url)} channel {channel_key(url)}"
    watch_channels([url])
    # An Apprise object per send: it holds nothing but this URL, and sends synchronously.
    apobj = apprise.Apprise()
    if not apobj.add(url):
        log.error("alert to %s: not a URL Apprise supports", where)
        return refused(f"{where}: not a URL Apprise supports")
    ok = apobj.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
    if ok:
        log.info("alert sent to %s", where)
        return delivered(f"{where}: sent")
    result = not_delivered(f"{where}: not sent", attempt=attempt, elapsed=elapsed)
    log.warning("alert to %s try %d not sent (%s)", where, attempt, result.outcome)
    return result
