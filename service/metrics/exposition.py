"""The text ``GET /metrics`` answers: every process's counts, and the state read at scrape time.

Imported when a scrape is answered, never by ``service`` at import (it imports
``prometheus_client``, which must first see the launcher's directory: see ``files``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from . import files, registry
from .state import StateCollector

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Launchers(Collector):
    """The files of every launcher of this instance (gunicorn workers, ``callgate worker``)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def collect(self) -> Iterable[Metric]:
        merged: Iterable[Metric] = MultiProcessCollector.merge(  # type: ignore[no-untyped-call]
            files.files(self._root), accumulate=True
        )
        return merged


class _Own(Collector):
    """This process's metrics, when it keeps them in memory (no launcher: tests, ``flask``)."""

    def collect(self) -> Iterable[Metric]:
        return registry().collect()


def render(state: StateCollector) -> bytes:
    """The exposition in Prometheus text format."""
    registry()  # this process's zeros exist even before it counted anything
    scrape = CollectorRegistry(auto_describe=False)
    own_dir = files.current()
    scrape.register(_Launchers(own_dir.parent) if own_dir is not None else _Own())
    scrape.register(state)
    return generate_latest(scrape)
