"""Leads: the model, the durable store and its migrations."""

from __future__ import annotations

from .model import Attempt, Lead
from .schema import migrate
from .store import IdempotencyConflict, LeadStore, Outcome

__all__ = ["Attempt", "IdempotencyConflict", "Lead", "LeadStore", "Outcome", "migrate"]
