"""Logging set-up: text or JSON lines, and a filter that keeps secrets and phone numbers out.

The filter is a second line of defence: code masks numbers itself (``phone.mask``), and the
filter catches what slips through, such as a provider echoing a number in an error body. The
same filter runs in both formats and on gunicorn's own logs (``server.gunicorn_logger_class``).

Each record also carries the id of the HTTP request and of the lead being handled, from
context variables that the app and the dispatcher set (:func:`set_request_id`,
:func:`lead_context`); the JSON format shows them as fields.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from pythonjsonlogger.json import JsonFormatter

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# 9 to 15 digits, optionally after "+", not inside a word or a dotted number such as a
# Google Analytics client ID (1234567890.1700000000): phone-number shaped.
_PHONE = re.compile(r"(?<![\w*])(?<!\d\.)(\+?)(\d{9,15})(?![\w*])(?!\.\d)")

# What every LogRecord has; anything else on a record came from ``extra=`` or a filter.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)

_request_id: ContextVar[str | None] = ContextVar("callgate_request_id", default=None)
_lead_id: ContextVar[str | None] = ContextVar("callgate_lead_id", default=None)


def set_request_id(request_id: str | None) -> Token[str | None]:
    """Tag the records of the current request; undo with :func:`reset_request_id`."""
    return _request_id.set(request_id)


def reset_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


def set_lead_id(lead_id: str | None) -> Token[str | None]:
    """Tag the records that follow with a lead id (until reset or the request ends)."""
    return _lead_id.set(lead_id)


def reset_lead_id(token: Token[str | None]) -> None:
    _lead_id.reset(token)


@contextmanager
def lead_context(lead_id: str | None) -> Iterator[None]:
    """Tag every record logged inside the block with ``lead_id``."""
    token = _lead_id.set(lead_id)
    try:
        yield
    finally:
        _lead_id.reset(token)


def mask_numbers(text: str) -> str:
    """``text`` with every phone-number-shaped run of digits masked (``+38067*****33``): log
    lines, and what a provider says back, which is kept on the lead and shown in alerts."""
    return _PHONE.sub(_mask_digits, text)


def _mask_digits(match: re.Match[str]) -> str:
    plus, digits = match.group(1), match.group(2)
    keep = 5
    return plus + digits[:keep] + "*" * (len(digits) - keep - 2) + digits[-2:]


class ContextFilter(logging.Filter):
    """Put the current request id and lead id on each record (``None`` when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id.get()
        if getattr(record, "lead_id", None) is None:
            record.lead_id = _lead_id.get()
        return True


class RedactingFilter(logging.Filter):
    """Replace known secret values with ``***`` and mask phone-shaped digit runs.

    It rewrites the message, the traceback and any string given as ``extra=``, so that every
    formatter, text or JSON, sees only the redacted record.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if len(s) >= 4)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return mask_numbers(text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
            # Formatters would format exc_info afresh, unredacted; the text is all they need.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, name, self.redact(value))
        return True


class JsonLineFormatter(JsonFormatter):
    """One JSON object per record: time, level, logger, message, then the ids and extras."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            json_ensure_ascii=False,
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # Time first for people reading raw lines; absent ids left out rather than null.
        ordered = {"time": log_data.pop("time"), **log_data}
        return {key: value for key, value in ordered.items() if value is not None}


def formatter(log_format: str) -> logging.Formatter:
    """The formatter for ``CALLGATE_LOG_FORMAT`` (``text`` or ``json``)."""
    if log_format == "json":
        return JsonLineFormatter()
    if log_format == "text":
        return logging.Formatter(TEXT_FORMAT)
    raise ValueError(f"unknown log format {log_format!r}")


def prepare_handler(
    handler: logging.Handler, log_format: str, secrets: Iterable[str], keep_text: bool = False
) -> None:
    """Give a handler our filters and, in JSON (or unless ``keep_text``), our formatter."""
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter(secrets))
    if log_format == "json" or not keep_text:
        handler.setFormatter(formatter(log_format))


def configure_logging(level: str, secrets: Iterable[str], log_format: str = "text") -> None:
    """Send ``callgate.*`` logs to stderr, one line each (text or JSON), redacted."""
    logger = logging.getLogger("callgate")
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    prepare_handler(handler, log_format, secrets)
    logger.addHandler(handler)
