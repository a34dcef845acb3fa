"""Which agents can take a call now: Ringostat's SIP status, cached, never waited on by the web.

An :class:`AgentMonitor` keeps the newest :class:`Snapshot` (online and speaking SIP logins):

* :meth:`AgentMonitor.current` never touches the network. It returns the snapshot while it is
  younger than ``CALLGATE_SIPSTATUS_MAX_AGE`` and, once it is older than
  ``CALLGATE_SIPSTATUS_TTL``, starts one refresh in a background thread (serve stale, refresh
  behind). The call-routing webhook and the widget use it.
* :meth:`AgentMonitor.current_or_fetch` may wait for Ringostat when nothing usable is cached;
  only the dispatcher, which is not on anyone's critical path, uses it.
* With Redis configured (``CALLGATE_REDIS_URL``), snapshots are shared: one process fetches per
  TTL (a ``SET NX`` lock) and every process adopts what it wrote.
* :meth:`AgentMonitor.start` keeps the snapshot warm with a poller, so that a call arriving after
  a quiet hour still finds a fresh answer; the factory starts it when the webhook is enabled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .config import Settings
from .providers.base import HttpClient, ProviderError
from .providers.sipstatus import SipStatusClient
from .shared import KEY_PREFIX, Shared, connect

log = logging.getLogger("callgate.agents")

# Status reads are small; a slow Ringostat must not hold a dispatcher thread for long.
STATUS_READ_TIMEOUT = 5.0


@dataclass(frozen=True)
class Snapshot:
    """Ringostat's answer at wall-clock time ``at`` (shared between processes, hence wall)."""

    online: frozenset[str]
    speaking: frozenset[str]
    at: float

    def free(self, logins: tuple[str, ...] = ()) -> list[str]:
        """Online and not speaking: among ``logins`` in their order, else all, sorted."""
        candidates = logins or tuple(sorted(self.online))
        return [x for x in candidates if x in self.online and x not in self.speaking]

    def dumps(self) -> str:
        return json.dumps(
            {"online": sorted(self.online), "speaking": sorted(self.speaking), "at": self.at}
        )

    @classmethod
    def loads(cls, text: str) -> Snapshot | None:
        try:
            data: Any = json.loads(text)
            return cls(frozenset(data["online"]), frozenset(data["speaking"]), float(data["at"]))
        except (ValueError, KeyError, TypeError):
            return None


class AgentMonitor:
    def __init__(
        self,
        fetch: Callable[[], Snapshot],
        ttl: float,
        max_age: float,
        shared: Shared | None = None,
        namespace: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl = ttl
        self.max_age = max_age
        self._fetch = fetch
        self._shared = shared
        self._key = f"{KEY_PREFIX}agents:{namespace}:status"
        self._fetch_lock_key = f"{KEY_PREFIX}agents:{namespace}:fetching"
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._state = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._refreshing = False
        self._retry_at = -math.inf
        self._failing = False
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # -- readers ------------------------------------------------------------------------------

    def current(self) -> Snapshot | None:
        """The usable snapshot or None; never waits. A stale one triggers a background refresh."""
        snapshot = self._snapshot
        age = self._age(snapshot)
        if age >= self.ttl:
            self._refresh_in_background()
        return snapshot if age < self.max_age else None

    def current_or_fetch(self) -> Snapshot | None:
        """Like :meth:`current`, but asks Ringostat now when nothing usable is cached."""
        snapshot = self.current()
        return snapshot if snapshot is not None else self.refresh()

    # -- refreshing ---------------------------------------------------------------------------

    def refresh(self, fresh_for: float | None = None) -> Snapshot | None:
        """Bring the snapshot up to date unless it is younger than ``fresh_for`` (the TTL).

        Order: a newer snapshot another process shared; else fetch from Ringostat, unless
        another process holds the fetch lock. Failures keep the old snapshot. Returns the usable
        snapshot afterwards, or None.
        """
        fresh_for = self.ttl if fresh_for is None else fresh_for
        with self._refresh_lock:
            if self._age(self._snapshot) < fresh_for:
                return self._snapshot
            shared = self._read_shared()
            if shared is not None:
                self._adopt(shared)
                if self._age(shared) < fresh_for:
                    return shared
            if self._shared is not None and not self._claim_fetch():
                return self._usable()
            self._retry_at = self._clock() + self.ttl
            try:
                snapshot = self._fetch()
            except ProviderError as exc:
                # First failure loud, repeats quiet: a down API must not flood the log.
                log.log(
                    logging.DEBUG if self._failing else logging.WARNING,
                    "SIP status refresh failed: %s",
                    exc.message,
                )
                self._failing = True
                return self._usable()
            if self._failing:
                log.info("SIP status refresh works again")
            self._failing = False
            self._retry_at = -math.inf
            self._adopt(snapshot)
            self._write_shared(snapshot)
            return snapshot

    def _refresh_in_background(self) -> None:
        with self._state:
            if self._refreshing or self._clock() < self._retry_at:
                return
            self._refreshing = True
        threading.Thread(target=self._background, name="callgate-sipstatus", daemon=True).start()

    def _background(self) -> None:
        try:
            self.refresh()
        except Exception:
            log.exception("SIP status refresh raised")
        finally:
            with self._state:
                self._refreshing = False

    def start(self) -> None:
        """Keep the snapshot warm: refresh a little before it goes stale, until :meth:`stop`."""
        if self._poller is not None:
            return
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll, name="callgate-sipstatus", daemon=True)
        self._poller.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout)
            self._poller = None

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                if self._clock() >= self._retry_at:
                    self.refresh(fresh_for=self.ttl * 0.8)
            except Exception:
                log.exception("SIP status poller error")
            self._stop.wait(max(0.05, self.ttl / 4))

    # -- internals ----------------------------------------------------------------------------

    def _age(self, snapshot: Snapshot | None) -> float:
        return math.inf if snapshot is None else max(0.0, self._clock() - snapshot.at)

    def _usable(self) -> Snapshot | None:
        snapshot = self._snapshot
        return snapshot if self._age(snapshot) < self.max_age else None

    def _adopt(self, snapshot: Snapshot) -> None:
        with self._state:
            if self._snapshot is None or snapshot.at >= self._snapshot.at:
                self._snapshot = snapshot

    def _read_shared(self) -> Snapshot | None:
        if self._shared is None:
            return None
        text = self._shared.call("read agent status", lambda r: r.get(self._key))
        return Snapshot.loads(text) if isinstance(text, str) else None

    def _write_shared(self, snapshot: Snapshot) -> None:
        if self._shared is not None:
            ms = max(1, int(self.max_age * 1000))
            self._shared.call(
                "share agent status", lambda r: r.set(self._key, snapshot.dumps(), px=ms)
            )

    def _claim_fetch(self) -> bool:
        """One process per TTL asks Ringostat; True also when Redis cannot say (then we ask)."""
        assert self._shared is not None
        ms = max(1, int(self.ttl * 1000))
        won = self._shared.call(
            "claim the status fetch", lambda r: r.set(self._fetch_lock_key, "1", nx=True, px=ms)
        )
        return won is None or bool(won)


def fetch_from(
    client: SipStatusClient, clock: Callable[[], float] = time.time
) -> Callable[[], Snapshot]:
    """The fetch function of a monitor: online, then speaking, stamped when both arrived."""

    def fetch() -> Snapshot:
        online = client.online()
        speaking = client.speaking()
        return Snapshot(online=online, speaking=speaking, at=clock())

    return fetch


def build_monitor(settings: Settings, shared: Shared | None = None) -> AgentMonitor | None:
    """The monitor for these settings; None when no Ringostat auth key is configured."""
    ringostat = settings.ringostat
    if not ringostat.auth_key:
        return None
    http = HttpClient(
        settings.provider_connect_timeout, min(settings.provider_read_timeout, STATUS_READ_TIMEOUT)
    )
    client = SipStatusClient(ringostat, settings.agents, http)
    return AgentMonitor(
        fetch_from(client),
        ttl=settings.agents.status_ttl,
        max_age=settings.agents.status_max_age,
        shared=shared if shared is not None else connect(settings.redis_url),
        namespace=namespace(settings),
    )


def namespace(settings: Settings) -> str:
    """Processes of one deployment share Redis keys; other deployments on that Redis don't.

    A keyed hash: the key names the Ringostat project without revealing anything about it.
    """
    ringostat = settings.ringostat
    return hashlib.blake2b(
        f"{ringostat.api_url}|{ringostat.project_id}|{settings.agents.source}".encode(),
        key=(ringostat.auth_key or settings.secret_key).encode()[:64],
        digest_size=8,
    ).hexdigest()


def agents_available(monitor: AgentMonitor | None, logins: tuple[str, ...]) -> bool:
    """Whether one of ``logins`` (all when empty) is online and not speaking now.

    For ``GET /api/v1/widget-config``: never waits on Ringostat, it reads the monitor's cached
    snapshot. With no monitor (no Ringostat auth key) there is nothing to ask and calls are
    placed at once, so the answer is true; with one but no usable snapshot yet, false.
    """
    if monitor is None:
        return True
    snapshot = monitor.current()
    return snapshot is not None and bool(snapshot.free(logins))
