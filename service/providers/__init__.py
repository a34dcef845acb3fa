"""Providers by their ``CALLGATE_PROVIDER`` name."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Settings
from .base import CallRequest, HttpClient, Placement, Provider, ProviderError
from .dry_run import DryRun
from .ringostat import RingostatExtended, RingostatSimple

__all__ = ["CallRequest", "Placement", "Provider", "ProviderError", "build_provider"]

# What dry-run impersonates: the extended callback, the product's first provider.
DRY_RUN_MODEL = "ringostat"

_FACTORIES: dict[str, Callable[[Settings, HttpClient], Provider]] = {
    "ringostat": lambda s, http: RingostatExtended(s.ringostat, http),
    "ringostat-simple": lambda s, http: RingostatSimple(s.ringostat, http),
}


def build_provider(settings: Settings) -> Provider:
    """The provider named by ``settings.provider``, with its own HTTP client."""
    http = HttpClient(settings.provider_connect_timeout, settings.provider_read_timeout)
    if settings.provider == "dry-run":
        return DryRun(_FACTORIES[DRY_RUN_MODEL](settings, http))
    return _FACTORIES[settings.provider](settings, http)
