"""``CALLGATE_CAPTCHA_SCRIPT_URL`` (the vendor script the widget renders its CAPTCHA with) and
``CALLGATE_CAPTCHA_SITE_KEY`` (the key it renders it with)."""

from __future__ import annotations

import pytest

from service.config import Settings
from tests.unit.test_config import assert_refused

TURNSTILE = {
    "CALLGATE_CAPTCHA": "turnstile",
    "CALLGATE_CAPTCHA_SECRET": "turnstile-secret",
    "CALLGATE_CAPTCHA_SITE_KEY": "0x4AAAAAAAsite",
}


@pytest.mark.parametrize(
    ("vendor", "url"),
    [
        ("turnstile", "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit"),
        ("hcaptcha", "https://js.hcaptcha.com/1/api.js?render=explicit"),
    ],
)
def test_each_vendor_defaults_to_its_explicit_render_script(vendor: str, url: str) -> None:
    settings = Settings.from_env(
        {
            "CALLGATE_CAPTCHA": vendor,
            "CALLGATE_CAPTCHA_SECRET": "s",
            "CALLGATE_CAPTCHA_SITE_KEY": "k",
        }
    )
    assert settings.captcha_script_url == url


@pytest.mark.parametrize(
    "url",
    [
        "https://captcha.example.com/api.js?render=explicit",
        # Plain http only where browsers allow it on an https page: loopback (tests, a dev box).
        "http://127.0.0.1:9/api.js?render=explicit",
        "http://localhost:9/api.js",
        "http://[::1]:9/api.js",
    ],
)
def test_the_script_may_come_from_elsewhere(url: str) -> None:
    environ = {**TURNSTILE, "CALLGATE_CAPTCHA_SCRIPT_URL": url}
    assert Settings.from_env(environ).captcha_script_url == url


@pytest.mark.parametrize(
    "url", ["http://captcha.example.com/api.js", "http://10.0.0.5/api.js", "http://127.example/a"]
)
def test_a_plain_http_script_elsewhere_than_loopback_stops_start_up(url: str) -> None:
    # An https page blocks an http script as mixed content: the CAPTCHA could never render.
    assert_refused(
        {**TURNSTILE, "CALLGATE_CAPTCHA_SCRIPT_URL": url}, "CALLGATE_CAPTCHA_SCRIPT_URL", "https"
    )


@pytest.mark.parametrize("vendor", ["turnstile", "hcaptcha"])
def test_a_captcha_without_a_site_key_stops_start_up_naming_it(vendor: str) -> None:
    # The widget could render nothing solvable, and every callback request would be refused.
    environ = {"CALLGATE_CAPTCHA": vendor, "CALLGATE_CAPTCHA_SECRET": "s"}
    assert_refused(environ, "CALLGATE_CAPTCHA_SITE_KEY", f"required when CALLGATE_CAPTCHA={vendor}")
    assert_refused(
        {**environ, "CALLGATE_CAPTCHA_SITE_KEY": "  "}, "CALLGATE_CAPTCHA_SITE_KEY", "required"
    )


def test_no_site_key_needed_without_a_captcha() -> None:
    assert Settings.from_env({}).captcha_site_key == ""


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
