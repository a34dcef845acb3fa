"""Where an incoming call goes: the rules behind Ringostat's call-routing webhook.

In order:

1. **sticky** — the caller's number matches a lead placed within ``CALLGATE_STICKY_WINDOW``
   whose callback went to a known destination: the visitor reaches the agent who called;
2. **agent** — an agent online and not speaking (cached SIP status), the one routed to least
   recently first, so calls spread over the free agents;
3. **fallback** — ``CALLGATE_ROUTE_FALLBACK``; empty means "no destination", and Ringostat goes
   on with its forwarding scheme.

Nothing here waits on Ringostat: the status comes from :meth:`AgentMonitor.current`, and a
missing or too-old snapshot means the fallback. The store and Redis are local and bounded.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import phonenumbers
from sqlalchemy.exc import SQLAlchemyError

from .agents import AgentMonitor
from .config import Settings
from .destinations import is_number
from .leads import LeadStore
from .phone import mask
from .shared import KEY_PREFIX, Shared

log = logging.getLogger("callgate.routing")

STICKY = "sticky"
AGENT = "agent"
FALLBACK = "fallback"


@dataclass(frozen=True)
class Route:
    destination: str  # "" = none: Ringostat continues with its scheme
    reason: str  # sticky | agent | fallback


def caller_e164(text: str | None, default_region: str) -> str | None:
    """The caller's number as stored on leads (E.164), from what Ringostat sent; else None.

    Ringostat writes numbers as international digits without ``+`` (``380671112233``); a value
    may arrive URL-encoded (``%2B380…``) inside a JSON body, as the reference's fields do.
    """
    if not text:
        return None
    raw = unquote(text).strip()
    digits = re.sub(r"\D", "", raw)
    if not 7 <= len(digits) <= 15:
        return None
    # International digits first (Ringostat's own format), then a national number.
    attempts: list[tuple[str, str | None]] = [("+" + digits, None)]
    if not raw.startswith("+"):
        attempts.append((digits, default_region))
    for candidate, region in attempts:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


# Atomically: the candidate with the oldest "last routed" time (never = 0) wins and is stamped.
_PICK_LEAST_RECENT = """
local best, best_score = nil, nil
for i = 2, #ARGV do
  local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[i]) or '0')
  if best == nil or score < best_score then best, best_score = ARGV[i], score end
end
redis.call('ZADD', KEYS[1], ARGV[1], best)
return best
"""


class RoutedLedger:
    """Who was routed to when: least recently routed first, shared through Redis if configured.

    Ties (never routed) go in the candidates' order. Without Redis, or while it is unreachable,
    each process keeps its own ledger: the spread is then per process, and still never wrong.
    """

    def __init__(
        self,
        shared: Shared | None = None,
        namespace: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._shared = shared
        self._key = f"{KEY_PREFIX}route:{namespace}:last"
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._script: Any = (
            shared.client.register_script(_PICK_LEAST_RECENT) if shared is not None else None
        )

    def pick(self, candidates: Sequence[str]) -> str:
        if not candidates:
            raise ValueError("no candidates")
        now = self._clock()
        if self._shared is not None:
            chosen = self._shared.call(
                "pick the least recently routed agent",
                lambda r: self._script(keys=[self._key], args=[now, *candidates], client=r),
            )
            if isinstance(chosen, str) and chosen in candidates:
                with self._lock:
                    self._last[chosen] = now
                return chosen
        with self._lock:
            chosen = min(candidates, key=lambda login: self._last.get(login, 0.0))
            self._last[chosen] = now
        return chosen


class Router:
    def __init__(
        self,
        settings: Settings,
        store: LeadStore,
        agents: AgentMonitor | None,
        ledger: RoutedLedger,
    ) -> None:
        self.settings = settings
        self.store = store
        self.agents = agents
        self.ledger = ledger

    def route(self, caller: str | None) -> Route:
        """Decide; never raises for want of data (no caller, no status, store trouble)."""
        phone = caller_e164(caller, self.settings.default_region)
        if phone is not None:
            sticky = self._sticky(phone)
            if sticky is not None:
                return self._decided(Route(sticky, STICKY), phone)
        if self.agents is not None:
            snapshot = self.agents.current()
            if snapshot is not None:
                free = snapshot.free(self.settings.agents.logins)
                if free:
                    return self._decided(Route(self.ledger.pick(free), AGENT), phone)
        return self._decided(Route(self.settings.route.fallback, FALLBACK), phone)

    def _sticky(self, phone: str) -> str | None:
        window = self.settings.route.sticky_window
        if window <= 0:
            return None
        try:
            return self.store.sticky_destination(phone, timedelta(seconds=window))
        except SQLAlchemyError as exc:
            # A live call must still be routed; the store's trouble is logged, not fatal.
            log.error("sticky lookup failed (%s); routing without it", type(exc).__name__)
            return None

    def _decided(self, route: Route, phone: str | None) -> Route:
        shown = mask("+" + route.destination) if is_number(route.destination) else route.destination
        log.info(
            "route: caller=%s -> %s (%s)",
            mask(phone) if phone else "unknown",
            shown or "none",
            route.reason,
        )
        return route
