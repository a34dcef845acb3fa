"""The one task queue: its statements and kinds (:mod:`.queue`), its reads and writes
(:mod:`.store`), the claim loop that runs them (:mod:`.runner`), and the grouping of pending
tasks (:mod:`.grouping`).

The claim loop is imported on first use: it needs :class:`service.leads.LeadStore`, whose
module needs :mod:`.queue`, so importing it here would be a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .queue import ClaimedTask, NewTask, Outbox

if TYPE_CHECKING:
    from .runner import SQLITE_POLL, CommitWatch, Handler, Kind, TaskRunner, backoff

_RUNNER = frozenset({"SQLITE_POLL", "CommitWatch", "Handler", "Kind", "TaskRunner", "backoff"})

__all__ = [
    "SQLITE_POLL",
    "ClaimedTask",
    "CommitWatch",
    "Handler",
    "Kind",
    "NewTask",
    "Outbox",
    "TaskRunner",
    "backoff",
]


def __getattr__(name: str) -> Any:
    if name in _RUNNER:
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
