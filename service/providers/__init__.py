"""Providers by their ``CALLGATE_PROVIDER`` name."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from ..config import Settings
from .base import (
    CallRequest,
    CallState,
    HttpClient,
    Placement,
    Provider,
    ProviderError,
    Tracking,
)
from .dry_run import DryRun
from .pbx import Pbx
from .ringcentral import RingCentral
from .ringostat import RingostatExtended, RingostatSimple

__all__ = [
    "CallRequest",
    "CallState",
    "Placement",
    "Provider",
    "ProviderError",
    "Tracking",
    "build_provider",
    "tracking",
]

_FACTORIES: dict[str, Callable[[Settings, HttpClient], Provider]] = {
    "ringostat": lambda s, http: RingostatExtended(s.ringostat, http),
    "ringostat-simple": lambda s, http: RingostatSimple(s.ringostat, http),
    "ringcentral": lambda s, http: RingCentral(s.ringcentral, http),
    "pbx": lambda s, http: Pbx(s.pbx, http),
}


def build_provider(settings: Settings) -> Provider:
    """The provider named by ``settings.provider``, with its own HTTP client.

    ``dry-run`` wraps the provider named by ``CALLGATE_DRY_RUN_AS`` (default ``ringostat``) and
    only describes the request that one would send.
    """
    http = HttpClient(settings.provider_connect_timeout, settings.provider_read_timeout)
    if settings.provider == "dry-run":
        return DryRun(_FACTORIES[settings.dry_run_as](settings, http))
    return _FACTORIES[settings.provider](settings, http)


def tracking(provider: Provider) -> Tracking | None:
    """The provider as :class:`Tracking` when it reports on its calls (RingCentral), else None.

    Dry-run never does: it placed nothing to ask about.
    """
    if callable(getattr(provider, "status", None)) and callable(getattr(provider, "cancel", None)):
        return cast(Tracking, provider)
    return None
