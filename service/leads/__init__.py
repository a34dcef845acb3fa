"""Leads: the model, the lifecycle, the task queue, the durable store and its migrations."""

from __future__ import annotations

from .lifecycle import IllegalTransition, LeadStatus
from .model import Attempt, Lead
from .queue import ClaimedTask, NewTask
from .schema import migrate
from .store import IdempotencyConflict, LeadStore

__all__ = [
    "Attempt",
    "ClaimedTask",
    "IdempotencyConflict",
    "IllegalTransition",
    "Lead",
    "LeadStatus",
    "LeadStore",
    "NewTask",
    "migrate",
]
