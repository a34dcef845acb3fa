"""``CALLGATE_CAPTCHA_SCRIPT_URL``: the vendor script the widget renders its CAPTCHA with."""

from __future__ import annotations

import pytest

from service.config import Settings
from tests.unit.test_config import assert_refused

TURNSTILE = {"CALLGATE_CAPTCHA": "turnstile", "CALLGATE_CAPTCHA_SECRET": "turnstile-secret"}


@pytest.mark.parametrize(
    ("vendor", "url"),
    [
        ("turnstile", "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit"),
        ("hcaptcha", "https://js.hcaptcha.com/1/api.js?render=explicit"),
    ],
)
def test_each_vendor_defaults_to_its_explicit_render_script(vendor: str, url: str) -> None:
    settings = Settings.from_env({"CALLGATE_CAPTCHA": vendor, "CALLGATE_CAPTCHA_SECRET": "s"})
    assert settings.captcha_script_url == url


def test_the_script_may_come_from_elsewhere() -> None:
    environ = {
        **TURNSTILE,
        "CALLGATE_CAPTCHA_SCRIPT_URL": "http://127.0.0.1:9/api.js?render=explicit",
    }
    assert (
        Settings.from_env(environ).captcha_script_url == "http://127.0.0.1:9/api.js?render=explicit"
    )


@pytest.mark.parametrize(
    "value", ["challenges.cloudflare.com/api.js", "javascript:alert(1)", "ftp://x/a.js"]
)
def test_a_wrong_script_url_stops_start_up_naming_the_variable(value: str) -> None:
    assert_refused(
        {**TURNSTILE, "CALLGATE_CAPTCHA_SCRIPT_URL": value}, "CALLGATE_CAPTCHA_SCRIPT_URL", "URL"
    )


def test_no_script_without_a_captcha() -> None:
    assert Settings.from_env({}).captcha_script_url == ""
    # Read only when a CAPTCHA is on, like CALLGATE_CAPTCHA_VERIFY_URL.
    environ = {"CALLGATE_CAPTCHA_SCRIPT_URL": "https://js.hcaptcha.com/1/api.js"}
    assert Settings.from_env(environ).captcha_script_url == ""
