"""The embedded default: build the exact request a real provider would send, and call nobody.

Like a console e-mail backend, it lets a newcomer watch the whole flow on a laptop: the request
is logged (secrets masked, phone masked in the log line) and recorded on the lead's attempt,
beside the lead's attribution (personal fields aside): no provider has a field for the ad click
ids, so this is where a newcomer sees that they were captured.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from .base import CallRequest, Placement, Provider

log = logging.getLogger("callgate.providers.dry_run")


class DryRun:
    name = "dry-run"

    def __init__(self, real: Provider) -> None:
        self.real = real
        # The destination the real provider would have rung, so sticky routing can be tried.
        self.destination = real.destination

    def describe(self, call: CallRequest) -> dict[str, Any]:
        return self.real.describe(call)

    def place(self, call: CallRequest) -> Placement:
        request = self.describe(call)
        log.info(
            "dry-run: would send to %s: %s",
            self.real.name,
            json.dumps(request, ensure_ascii=False, sort_keys=True),
        )
        return Placement(
            reference=f"dry-run:{call.lead_id}",
            destination=self.destination,
            detail={"request": request, "attribution": call.attribution.known(personal=False)},
        )
