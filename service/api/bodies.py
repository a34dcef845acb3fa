"""JSON bodies parsed so that whatever arrives is either an object or a clean 400, never a 500.

The standard parser raises ``RecursionError`` (not ``ValueError``) on deeply nested input,
which Flask's ``get_json(silent=True)`` does not catch, and lets lone surrogates through, which
fail later, at the database. Duplicate keys are refused too: a proxy
or WAF in front that reads the first ``phone`` while we read the last would see another request
than the one we store.
"""

from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider


class DuplicateKey(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(f"the key {key[:40]!r} appears twice")
        result[key] = value
    return result


def _text_is_unicode(value: Any) -> None:
    """Refuse lone surrogates (``"\\ud800"`` is valid JSON, not valid text): no database or
    encoder downstream can store them. Iterative, as the value may be nested deeply."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("a string holds a lone surrogate escape") from None


def parse(data: str | bytes) -> Any:
    """``json.loads`` that raises only ``ValueError`` for bad input (depth, encoding, keys).

    Invalid UTF-8 and integers beyond Python's digit limit already raise ``ValueError``.
    """
    try:
        value = json.loads(data, object_pairs_hook=_unique)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    _text_is_unicode(value)
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with :func:`parse` for every request body the app reads."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return parse(s)
