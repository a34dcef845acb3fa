"""Provider settings: read from the environment, and refused with the variable's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import Settings
from service.providers import build_provider
from service.providers.dry_run import DryRun
from service.providers.pbx import Pbx
from service.providers.ringcentral import RingCentral
from service.providers.ringostat import RingostatSimple
from tests.unit.test_config import assert_refused

SECRET = {"CALLGATE_SECRET_KEY": "s" * 32}
RINGCENTRAL = {
    **SECRET,
    "CALLGATE_PROVIDER": "ringcentral",
    "CALLGATE_RINGCENTRAL_CLIENT_ID": "client-id",
    "CALLGATE_RINGCENTRAL_CLIENT_SECRET": "client-secret-value",
    "CALLGATE_RINGCENTRAL_JWT": "jwt-value-0123456789",
}
PBX = {
    **SECRET,
    "CALLGATE_PROVIDER": "pbx",
    "CALLGATE_PBX_URL": "https://pbx.example.com/",
    "CALLGATE_PBX_API_USERNAME": "api",
    "CALLGATE_PBX_API_PASSWORD": "pbx-password-value",
    "CALLGATE_PBX_API_KEY": "pbx-api-key-value",
    "CALLGATE_PBX_PROJECT_ID": "1",
    "CALLGATE_PBX_DESTINATION": "sales",
}
SIMPLE = {
    **SECRET,
    "CALLGATE_PROVIDER": "ringostat-simple",
    "CALLGATE_RINGOSTAT_AUTH_KEY": "k" * 16,
    "CALLGATE_RINGOSTAT_EXTENSION": "+380441112233",
}


def test_ringcentral_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            **RINGCENTRAL,
            "CALLGATE_RINGCENTRAL_FROM": "+1 (650) 555-0100",
            "CALLGATE_RINGCENTRAL_CALLER_ID": "+16505550101",
            "CALLGATE_RINGCENTRAL_PLAY_PROMPT": "yes",
        }
    )
    rc = settings.ringcentral
    assert rc.server_url == "https://platform.ringcentral.com"
    assert (rc.from_number, rc.caller_id, rc.play_prompt) == ("+16505550100", "+16505550101", True)
    assert isinstance(build_provider(settings), RingCentral)


def test_pbx_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            **PBX,
            "CALLGATE_PBX_TYPE": "context",
            "CALLGATE_PBX_CALLER_ID_FORMAT": "e164",
            "CALLGATE_PBX_ASYNC": "false",
            "CALLGATE_PBX_SKIP_WELCOME": "1",
            "CALLGATE_PBX_SKIP_ENTER_QUEUE": "off",
            "CALLGATE_PBX_BACKEND_LINK": "https://crm.example.com/lead/{lead_id}",
            "CALLGATE_PBX_DEFAULT_CALLER_NAME": "Site",
        }
    )
    pbx = settings.pbx
    assert pbx.url == "https://pbx.example.com"
    assert (pbx.type, pbx.caller_id_format, pbx.is_async) == ("context", "e164", False)
    assert (pbx.skip_welcome, pbx.skip_we_are_recording, pbx.skip_enter_queue) == (
        True,
        None,
        False,
    )
    assert pbx.default_caller_name == "Site"
    assert isinstance(build_provider(settings), Pbx)


def test_simple_callback_is_built() -> None:
    assert isinstance(build_provider(Settings.from_env(SIMPLE)), RingostatSimple)


@pytest.mark.parametrize("real", ["ringostat", "ringostat-simple", "ringcentral", "pbx"])
def test_dry_run_impersonates_any_provider_without_its_credentials(real: str) -> None:
    provider = build_provider(Settings.from_env({"CALLGATE_DRY_RUN_AS": real}))
    assert isinstance(provider, DryRun)
    assert provider.real.name == real


@pytest.mark.parametrize(
    ("environ", "variable", "words"),
    [
        ({**RINGCENTRAL, "CALLGATE_RINGCENTRAL_JWT": ""}, "CALLGATE_RINGCENTRAL_JWT", "required"),
        (
            {**RINGCENTRAL, "CALLGATE_RINGCENTRAL_CLIENT_ID": ""},
            "CALLGATE_RINGCENTRAL_CLIENT_ID",
            "required",
        ),
        (
            {**RINGCENTRAL, "CALLGATE_RINGCENTRAL_CLIENT_SECRET": ""},
            "CALLGATE_RINGCENTRAL_CLIENT_SECRET",
            "required",
        ),
        (
            {**RINGCENTRAL, "CALLGATE_RINGCENTRAL_FROM": "0671112233"},
            "CALLGATE_RINGCENTRAL_FROM",
            "E.164",
        ),
        (
            {**RINGCENTRAL, "CALLGATE_RINGCENTRAL_PLAY_PROMPT": "maybe"},
            "CALLGATE_RINGCENTRAL_PLAY_PROMPT",
            "not true or false",
        ),
        (
            {**RINGCENTRAL, "CALLGATE_RINGCENTRAL_SERVER_URL": "platform.ringcentral.com"},
            "CALLGATE_RINGCENTRAL_SERVER_URL",
            "URL",
        ),
        ({**PBX, "CALLGATE_PBX_URL": ""}, "CALLGATE_PBX_URL", "required"),
        ({**PBX, "CALLGATE_PBX_URL": "pbx.example.com"}, "CALLGATE_PBX_URL", "URL"),
        ({**PBX, "CALLGATE_PBX_API_KEY": ""}, "CALLGATE_PBX_API_KEY", "required"),
        ({**PBX, "CALLGATE_PBX_API_PASSWORD": ""}, "CALLGATE_PBX_API_PASSWORD", "required"),
        ({**PBX, "CALLGATE_PBX_API_USERNAME": ""}, "CALLGATE_PBX_API_USERNAME", "required"),
        ({**PBX, "CALLGATE_PBX_PROJECT_ID": ""}, "CALLGATE_PBX_PROJECT_ID", "required"),
        ({**PBX, "CALLGATE_PBX_DESTINATION": ""}, "CALLGATE_PBX_DESTINATION", "required"),
        ({**PBX, "CALLGATE_PBX_TYPE": "ivr"}, "CALLGATE_PBX_TYPE", "not one of"),
        (
            {**PBX, "CALLGATE_PBX_CALLER_ID_FORMAT": "local"},
            "CALLGATE_PBX_CALLER_ID_FORMAT",
            "not one of",
        ),
        ({**PBX, "CALLGATE_PBX_ASYNC": "2"}, "CALLGATE_PBX_ASYNC", "not true or false"),
        (
            {**PBX, "CALLGATE_PBX_SKIP_WELCOME": "si"},
            "CALLGATE_PBX_SKIP_WELCOME",
            "not true or false",
        ),
        (
            {**PBX, "CALLGATE_PBX_BACKEND_LINK": "https://crm/{id}"},
            "CALLGATE_PBX_BACKEND_LINK",
            "{lead_id}",
        ),
        (
            {**PBX, "CALLGATE_PBX_BACKEND_LINK": "crm/{lead_id}"},
            "CALLGATE_PBX_BACKEND_LINK",
            "URL",
        ),
        (
            {**SIMPLE, "CALLGATE_RINGOSTAT_EXTENSION": ""},
            "CALLGATE_RINGOSTAT_EXTENSION",
            "required",
        ),
        ({"CALLGATE_DRY_RUN_AS": "dry-run"}, "CALLGATE_DRY_RUN_AS", "not one of"),
        ({"CALLGATE_STATUS_POLL_INTERVAL": "often"}, "CALLGATE_STATUS_POLL_INTERVAL", "duration"),
    ],
)
def test_bad_provider_settings_name_the_variable(
    environ: dict[str, str], variable: str, words: str
) -> None:
    assert_refused(environ, variable, words)


def test_new_secrets_come_from_files_and_are_redacted(tmp_path: Path) -> None:
    jwt = tmp_path / "jwt"
    jwt.write_text("jwt-from-a-file-0123\n")
    settings = Settings.from_env(
        {
            **RINGCENTRAL,
            "CALLGATE_RINGCENTRAL_JWT": "",
            "CALLGATE_RINGCENTRAL_JWT_FILE": str(jwt),
            "CALLGATE_PBX_API_PASSWORD": "pbx-password-value",
            "CALLGATE_PBX_API_KEY": "pbx-api-key-value",
        }
    )
    assert settings.ringcentral.jwt == "jwt-from-a-file-0123"
    assert set(settings.secret_values()) >= {
        "jwt-from-a-file-0123",
        "client-secret-value",
        "pbx-password-value",
        "pbx-api-key-value",
    }
    for secret in settings.secret_values():
        assert secret not in repr(settings)
