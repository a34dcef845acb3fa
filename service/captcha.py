"""Server-side CAPTCHA verification (Cloudflare Turnstile or hCaptcha), when configured.

Both take a form-encoded ``secret``, ``response`` and ``remoteip`` and answer JSON with
``success``. A verifier we cannot reach fails closed with a retryable error: a bot defence
that opens whenever its vendor is slow would be no defence.
"""

from __future__ import annotations

import requests

from .config import Settings


class CaptchaRejected(ValueError):
    def __init__(self, code: str, message: str, unavailable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.unavailable = unavailable


class CaptchaVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session = requests.Session()

    @property
    def enabled(self) -> bool:
        return self.settings.captcha != "none"

    def verify(self, response: str | None, remote_ip: str | None) -> None:
        if not self.enabled:
            return
        if not response:
            raise CaptchaRejected("captcha_missing", "Complete the check before sending.")
        data = {"secret": self.settings.captcha_secret, "response": response}
        if remote_ip:
            data["remoteip"] = remote_ip
        try:
            answer = self._session.post(
                self.settings.captcha_verify_url, data=data, timeout=(3.05, 5)
            )
            result = answer.json() if answer.ok else None
        except (requests.RequestException, ValueError):
            result = None
        if not isinstance(result, dict):
            raise CaptchaRejected(
                "captcha_unavailable", "The check could not be verified; try again.", True
            )
        if result.get("success") is not True:
            raise CaptchaRejected("captcha_failed", "The check failed; please try again.")
