from __future__ import annotations

import io
import json
import logging
import re
import sys
from datetime import datetime, timedelta

import pytest

from service.config import Settings
from service.logs import (
    LOG_FORMATS,
    RedactingFilter,
    configure_logging,
    lead_context,
    prepare_handler,
    reset_request_id,
    set_request_id,
)
from service.server import gunicorn_logger_class


def test_filter_masks_numbers_and_secrets() -> None:
    f = RedactingFilter(["s3cr3t-key"])
    record = logging.LogRecord(
        "callgate",
        logging.INFO,
        __file__,
        1,
        "calling %s with key %s; lead id Ab380671112233x",
        ("+380671112233", "s3cr3t-key"),
        None,
    )
    f.filter(record)
    message = record.getMessage()
    assert "+38067*****33" in message
    assert "s3cr3t-key" not in message and "***" in message
    assert "Ab380671112233x" in message  # digits inside a word are not a phone


def test_filter_leaves_client_ids_but_masks_a_number_ending_a_sentence() -> None:
    f = RedactingFilter()
    assert f.redact("clientId 1234567890.1700000000") == "clientId 1234567890.1700000000"
    assert f.redact("call 380671112233.") == "call 38067*****33."


def test_configured_logger_redacts(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", ["topsecretvalue"])
    logging.getLogger("callgate.test").info("number 380671112233 key topsecretvalue")
    err = capsys.readouterr().err
    assert "38067*****33" in err and "topsecretvalue" not in err


def _record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("provider said 380671112233 to topsecretvalue")
        except RuntimeError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("callgate.test", logging.ERROR, __file__, 1, msg, args, exc_info)
    record.__dict__.update(extra)
    return record


def _emit(log_format: str, record: logging.LogRecord, secrets: tuple[str, ...] = ()) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    prepare_handler(handler, log_format, secrets)
    handler.handle(record)
    return stream.getvalue()


@pytest.mark.parametrize("log_format", LOG_FORMATS)
def test_both_formats_mask_numbers_and_redact_secrets_everywhere(log_format: str) -> None:
    record = _record(
        "calling %s with key %s", "+380671112233", "topsecretvalue", exc=True, echoed="380501234567"
    )
    out = _emit(log_format, record, ("topsecretvalue",))
    assert "+38067*****33" in out  # the message
    assert "38067*****33 to ***" in out  # the traceback
    assert "topsecretvalue" not in out
    assert "380671112233" not in out and "380501234567" not in out
    if log_format == "json":
        assert json.loads(out)["echoed"] == "38050*****67"  # an extra= field


def test_json_is_one_object_per_line_with_time_level_logger_message() -> None:
    out = _emit("json", _record("lead %s\nplaced", "abc"))
    assert out.count("\n") == 1  # a newline in the message stays inside the JSON string
    entry = json.loads(out)
    assert list(entry)[:4] == ["time", "level", "logger", "message"]
    assert entry["level"] == "ERROR" and entry["logger"] == "callgate.test"
    assert entry["message"] == "lead abc\nplaced"
    assert datetime.fromisoformat(entry["time"]).utcoffset() == timedelta(0)
    assert "request_id" not in entry and "lead_id" not in entry  # none in force here


def test_json_carries_the_request_and_lead_in_force() -> None:
    token = set_request_id("rid-7")
    try:
        with lead_context("lead-1"):
            inside = json.loads(_emit("json", _record("placing")))
        after = json.loads(_emit("json", _record("done")))
    finally:
        reset_request_id(token)
    assert (inside["request_id"], inside["lead_id"]) == ("rid-7", "lead-1")
    assert after["request_id"] == "rid-7" and "lead_id" not in after
    assert "request_id" not in json.loads(_emit("json", _record("later")))


def test_text_format_is_unchanged() -> None:
    out = _emit("text", _record("lead %s placed", "abc"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d [\d:,]+ ERROR callgate.test: lead abc placed\n", out)


def test_configure_logging_json_writes_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", ["topsecretvalue"], "json")
    try:
        logging.getLogger("callgate.test").info("number 380671112233 key topsecretvalue")
    finally:
        configure_logging("INFO", [])
    entry = json.loads(capsys.readouterr().err)
    assert entry["message"] == "number 38067*****33 key ***"


@pytest.mark.parametrize("log_format", LOG_FORMATS)
def test_gunicorn_logs_go_through_the_same_filter(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from gunicorn.config import Config

    settings = Settings(secret_key="topsecretvalue", log_format=log_format)
    cfg = Config()
    cfg.set("errorlog", "-")
    cfg.set("accesslog", "-")
    logger = gunicorn_logger_class(settings)(cfg)
    logger.error("worker said 380671112233 and topsecretvalue")
    logger.access_log.info("GET /%(n)s", {"n": "380671112233"})
    lines = capsys.readouterr()
    out = (lines.out + lines.err).splitlines()
    assert len(out) == 2
    assert "topsecretvalue" not in "".join(out) and "380671112233" not in "".join(out)
    if log_format == "json":
        entries = {entry["logger"]: entry["message"] for entry in map(json.loads, out)}
        assert entries == {
            "gunicorn.error": "worker said 38067*****33 and ***",
            "gunicorn.access": "GET /38067*****33",
        }
    else:  # gunicorn's own layout, redacted
        assert any("[ERROR] worker said 38067*****33 and ***" in line for line in out)
        assert "GET /38067*****33" in out
