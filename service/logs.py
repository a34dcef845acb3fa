"""Logging set-up: one format, and a filter that keeps secrets and phone numbers out of logs.

The filter is a second line of defence: code masks numbers itself (``phone.mask``), and the
filter catches what slips through, such as a provider echoing a number in an error body.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

# 9 to 15 digits, optionally after "+", not inside a word or a dotted number such as a
# Google Analytics client ID (1234567890.1700000000): phone-number shaped.
_PHONE = re.compile(r"(?<![\w*])(?<!\d\.)(\+?)(\d{9,15})(?![\w*])(?!\.\d)")


def _mask_digits(match: re.Match[str]) -> str:
    plus, digits = match.group(1), match.group(2)
    keep = 5
    return plus + digits[:keep] + "*" * (len(digits) - keep - 2) + digits[-2:]


class RedactingFilter(logging.Filter):
    """Replace known secret values with ``***`` and mask phone-shaped digit runs."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if len(s) >= 4)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _PHONE.sub(_mask_digits, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.msg, record.args = redacted, ()
        return True


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    """Send ``callgate.*`` logs to stderr, one line each, redacted."""
    logger = logging.getLogger("callgate")
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    logger.addHandler(handler)
