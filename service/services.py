"""The objects one app instance works with, built once by the factory."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .agents import AgentMonitor
from .captcha import CaptchaVerifier
from .config import Settings
from .database.schema import SchemaCheck
from .dispatch import Dispatcher
from .hours import OfficeHours
from .leads import LeadStore
from .phone import PhonePolicy
from .providers import Provider
from .routing import Router


@dataclass
class Services:
    settings: Settings
    store: LeadStore
    provider: Provider
    dispatcher: Dispatcher
    phone_policy: PhonePolicy
    captcha: CaptchaVerifier
    hours: OfficeHours
    # None without a Ringostat auth key: nothing to ask about agents.
    agents: AgentMonitor | None = None
    router: Router | None = None
    # /readyz: whether the database schema is behind this version's.
    schema: SchemaCheck | None = None


def services() -> Services:
    found: Services = current_app.extensions["callgate"]
    return found
