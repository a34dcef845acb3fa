"""Leads: the model, the lifecycle, admission, bookings and the durable store."""

from __future__ import annotations

from .lifecycle import IllegalTransition, LeadStatus
from .model import Attempt, Lead
from .store import IdempotencyConflict, LeadStore

__all__ = [
    "Attempt",
    "IdempotencyConflict",
    "IllegalTransition",
    "Lead",
    "LeadStatus",
    "LeadStore",
]
