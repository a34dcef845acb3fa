"""Schemathesis against /openapi.json, in process (WSGI): every operation, positive and negative.

Checks: no 5xx, every error is problem+json, responses match the document, nothing the schema
forbids is accepted, and what it allows is accepted. ``FUZZ_EXAMPLES`` scales the run
(``make fuzz``); ``make test`` runs the default, at least 1,000 cases in all.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.hours import OfficeHours
from tests.conftest import services

TOTAL = int(os.environ.get("FUZZ_EXAMPLES", "1020"))

# 413 (body over 16 KB) is a rejection too: fields at their maxLength add up past the limit.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": ["400", "403", "404", "405", "413", "415", "422", "429"]
            }
        }
    }
)

GENEROUS = {
    "limit_per_ip": "1000000/minute",
    "limit_per_phone": "1000000/minute",
    "limit_global": "1000000/minute",
    # One access-log line per case would cost more than the case itself.
    "log_level": "WARNING",
}


@schemathesis.check
def errors_are_problem_json(ctx: Any, response: schemathesis.Response, case: Any) -> bool | None:
    """Every 4xx and 5xx is RFC 9457 problem details with its own status in the body."""
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.split(";")[0] == "application/problem+json", content_type
        body = response.json()
        assert body["status"] == response.status_code and body["type"] and body["title"]
    return None


# Valid Ukrainian mobile numbers in the human formats the schema allows. No schema can say which
# digit strings a carrier would connect, so positive cases get a callable number; the raw
# generated strings are covered by the negative run and by the phone properties.
CALLABLE_NUMBERS = st.builds(
    lambda operator, subscriber, style: style.format(op=operator, a=subscriber),
    st.sampled_from(["67", "50", "63", "93", "97"]),
    st.integers(0, 9_999_999).map(lambda n: f"{n:07d}"),
    st.sampled_from(["+380{op}{a}", "0{op}{a}", "+38 (0{op}) {a}", " 380{op}{a} "]),
)


def _form_nulls_absent(case: Any) -> Any:
    """A form cannot carry null (it would arrive as the text "null"): it leaves the field out."""
    if case.media_type == "application/x-www-form-urlencoded" and isinstance(case.body, dict):
        case.body = {key: value for key, value in case.body.items() if value is not None}
    return case


def _callable(case: Any, phone: str, n: int) -> Any:
    """The positive case with a callable number and, when it has one, a key of its own."""
    if isinstance(case.body, dict):
        case.body["phone"] = phone
        if case.body.get("idempotency_key"):
            # Same key, other number is refused by design (key_reused); keep keys unique.
            case.body["idempotency_key"] = f"{case.body['idempotency_key'][:100]}-{n}"
    if case.headers and case.headers.get("Idempotency-Key"):
        case.headers["Idempotency-Key"] = f"{case.headers['Idempotency-Key'][:100]}-{n}"
    return case


def _bookable(case: Any, hours: OfficeHours) -> Any:
    """A positive case's call_at is a slot the office takes: like a callable number, no schema
    can say which times those are (refusals have their own tests in tests/api/test_slots.py)."""
    if isinstance(case.body, dict) and case.body.get("call_at") is not None:
        # The second slot from now, so that the first cannot end while the case runs.
        case.body["call_at"] = hours.open_slots(datetime.now(UTC), {})[1].start.isoformat()
    return case


# (path, method, mode, share of the cases). Operations without inputs have one case to run.
PLAN = [
    ("/api/v1/callbacks", "POST", GenerationMode.POSITIVE, 0.38),
    ("/api/v1/callbacks", "POST", GenerationMode.NEGATIVE, 0.38),
    ("/api/v1/widget-config", "GET", GenerationMode.POSITIVE, 0.04),
    ("/api/v1/slots", "GET", GenerationMode.POSITIVE, 0.0),
    ("/api/v1/callbacks/{lead_id}", "GET", GenerationMode.POSITIVE, 0.1),
    ("/api/v1/callbacks/{lead_id}", "GET", GenerationMode.NEGATIVE, 0.1),
    ("/healthz", "GET", GenerationMode.POSITIVE, 0.0),
    ("/readyz", "GET", GenerationMode.POSITIVE, 0.0),
    ("/metrics", "GET", GenerationMode.POSITIVE, 0.0),
    # Any version query and any If-None-Match: a script or a 304, never an error.
    ("/widget.js", "GET", GenerationMode.POSITIVE, 0.01),
    ("/widget-dialog.js", "GET", GenerationMode.POSITIVE, 0.01),
    ("/widget-captcha.js", "GET", GenerationMode.POSITIVE, 0.01),
    ("/api/v1/form-token", "GET", GenerationMode.POSITIVE, 0.0),
]
# The in-process (WSGI) transport does not undo Content-Encoding as an HTTP client does, and
# widget-config is gzipped whenever the client accepts it (test_widget.py checks that).
PLAIN = {"Accept-Encoding": "identity"}


@pytest.mark.parametrize(("path", "method", "mode", "share"), PLAN)
def test_fuzz(
    make_app: Callable[..., Flask], path: str, method: str, mode: GenerationMode, share: float
) -> None:
    examples = max(1, round(TOTAL * share))
    app = make_app(**GENEROUS)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=CONFIG)
    operation = schema[path][method]
    calls = 0

    strategy = operation.as_strategy(generation_mode=mode).map(_form_nulls_absent)
    if method == "POST" and mode is GenerationMode.POSITIVE:
        serial = itertools.count()
        strategy = st.builds(_callable, strategy, CALLABLE_NUMBERS, st.builds(lambda: next(serial)))
        strategy = strategy.map(lambda case: _bookable(case, services(app).hours))

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        # make test is reproducible; make fuzz explores new ground on each run.
        derandomize=not os.environ.get("FUZZ_RANDOM"),
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        case.call_and_validate(
            headers=PLAIN, additional_checks=[errors_are_problem_json], excluded_checks=excluded
        )

    # A negative case whose mutation lands where it changes nothing (a header, say) is valid
    # by the schema but still carries a random digit string as the phone, which no schema can
    # tell from a real number: acceptance of valid data is the positive runs' job.
    excluded = [positive_data_acceptance] if mode is GenerationMode.NEGATIVE else []

    run()
    assert calls >= examples
