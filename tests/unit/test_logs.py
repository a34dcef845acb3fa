from __future__ import annotations

import logging

import pytest

from service.logs import RedactingFilter, configure_logging


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
