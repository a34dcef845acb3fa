"""Our ``http_build_query`` against PHP's own, on generated nested inputs.

PHP is Debian's ``php-cli`` (``make test`` installs it). Each hypothesis example is a batch
of inputs sent to one ``php`` process as JSON, so a few hundred inputs cost a few processes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.providers.phpquery import http_build_query, urlencode
from tests.php import PHP

# One query per line: a built query never holds a raw newline (it would be %0A).
PHP_BATCH = (
    "$inputs = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);"
    'foreach ($inputs as $input) { echo http_build_query($input), "\\n"; }'
)


def php_queries(inputs: list[dict[str, Any]]) -> list[str]:
    result = subprocess.run(
        [PHP, "-r", PHP_BATCH],
        input=json.dumps(inputs).encode(),
        capture_output=True,
        check=True,
        timeout=30,
    )
    return result.stdout.decode().split("\n")[:-1]


# Any Unicode text but lone surrogates (not encodable as UTF-8, so not a PHP string).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
KEY = st.one_of(TEXT, st.sampled_from(["SKIP_WELCOME", "data", "0", "1", "", "a b", "x[y]"]))
LEAF = st.one_of(
    TEXT,
    st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1),
    st.booleans(),
    st.none(),
)
# JSON object keys are strings, so dict keys are text; lists give PHP's integer keys.
TREE = st.recursive(
    LEAF,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(KEY, children, max_size=4),
    ),
    max_leaves=12,
)
PARAMS = st.dictionaries(KEY, TREE, max_size=6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PARAMS, min_size=1, max_size=40))
def test_matches_php_on_generated_nested_inputs(batch: list[dict[str, Any]]) -> None:
    assert [http_build_query(params) for params in batch] == php_queries(batch)


def test_matches_php_on_the_originate_call_example() -> None:
    params = {
        "api_username": "your_api_usr",
        "api_password": "your_api_pass",
        "data": {
            "project_id": 1,
            "caller_id": "0123456789",
            "caller_id_name": "John Doe",
            "type": "queue",
            "destination": "test-queue",
            "external_id": "asdf1234",
            "async": True,
            "outbound_number": "+40212345678",
            "outbound_trunk": None,
            "vars": {
                "SKIP_WELCOME": True,
                "SKIP_WE_ARE_RECORDING": True,
                "SKIP_ENTER_QUEUE": False,
                "BACKEND_LINK": "https://crm.example/?lead=1234",
            },
        },
    }
    [expected] = php_queries([params])
    built = http_build_query(params)
    assert built == expected
    assert "data%5Bvars%5D%5BSKIP_WELCOME%5D=1" in built
    assert "data%5Bvars%5D%5BSKIP_ENTER_QUEUE%5D=0" in built
    assert "outbound_trunk" not in built
    php_hash = subprocess.run(
        [PHP, "-r", 'echo md5(stream_get_contents(STDIN) . "your_api_key");'],
        input=built.encode(),
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    assert hashlib.md5((built + "your_api_key").encode()).hexdigest() == php_hash


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("John Doe", "John+Doe"),
        ("a~b", "a%7Eb"),
        ("-_.", "-_."),
        ("*!'()", "%2A%21%27%28%29"),
        ("Іван", "%D0%86%D0%B2%D0%B0%D0%BD"),
        ("+380", "%2B380"),
    ],
)
def test_urlencode_rules(text: str, encoded: str) -> None:
    assert urlencode(text) == encoded


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        http_build_query({"x": 1.5})
