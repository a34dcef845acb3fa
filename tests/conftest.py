from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.config import RingostatSettings, Settings
from service.database import migrate
from service.leads import LeadStore
from service.services import Services
from tests.fakes.provider import FakeProvider

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """Settings for one test: a fresh SQLite file, dispatch driven by the test itself."""

    def make(**overrides: Any) -> Settings:
        ringostat = overrides.pop("ringostat", {})
        base = Settings(
            database_url=f"sqlite:///{tmp_path}/callgate.db",
            dispatcher="external",
            secret_key="test-secret-key-0123456789",
            retry_base=0.01,
            retry_cap=0.05,
            # Tests that are not about these defences post freely from one address.
            form_token_required=False,
            max_numbers_per_ip=1000,
            # A block from the CLI applies at once (its own test covers the refresh).
            blocklist_refresh=0.0,
        )
        ringostat_settings = RingostatSettings(
            auth_key="test-auth-key", project_id="11111", callee="777"
        ).model_copy(update=ringostat)
        return base.model_copy(update={"ringostat": ringostat_settings, **overrides})

    return make


@pytest.fixture
def make_app(make_settings: SettingsFactory) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        settings = make_settings(**overrides)
        store = LeadStore(settings.database_url)
        migrate(store)
        store.close()
        app = create_app(settings)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        svc: Services = app.extensions["callgate"]
        svc.dispatcher.stop(timeout=5)
        svc.store.close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def receiver() -> Iterator[FakeProvider]:
    """A loopback endpoint that takes a webhook or a GA4 hit: 204, no body."""
    fake = FakeProvider().start()
    fake.set(statuses=[204], body=lambda _: {})
    yield fake
    fake.stop()


@pytest.fixture
def channel() -> Iterator[FakeProvider]:
    """A loopback chat or notification service that takes a message: 200."""
    fake = FakeProvider().start()
    fake.set(statuses=[200], body=lambda _: {})
    yield fake
    fake.stop()


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    yield fake
    fake.stop()


def services(app: Flask) -> Services:
    found: Services = app.extensions["callgate"]
    return found
