"""PHP's ``http_build_query`` in Python, byte for byte, for APIs that sign its output.

The While1 Voice PBX checks ``api_hash = md5(http_build_query($params) . $api_key)``, so our
string must equal PHP's exactly. PHP's rules (default ``PHP_QUERY_RFC1738``, checked against
``php -r`` in ``tests/unit/test_phpquery.py``):

* keys and values go through ``urlencode``: ASCII letters, digits and ``-_.`` stay, a space
  becomes ``+``, every other byte of the UTF-8 text becomes ``%XX`` (upper case) — including
  ``~``, which ``rawurlencode`` would leave alone;
* nested arrays become ``outer%5Binner%5D=value`` (the brackets are encoded too); a list's
  keys are its indexes;
* ``true`` is ``1``, ``false`` is ``0``; ``null`` and empty arrays produce nothing at all;
* pairs keep insertion order and are joined with ``&``.

Floats are refused: PHP prints them by its ``serialize_precision`` rules, which we do not need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# urlencode leaves these bytes as they are; the rest is %XX, and a space is "+".
_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
_TABLE = tuple(
    chr(byte) if byte in _SAFE else "+" if byte == 0x20 else f"%{byte:02X}" for byte in range(256)
)


def urlencode(text: str) -> str:
    """PHP's ``urlencode`` of a UTF-8 string."""
    return "".join(_TABLE[byte] for byte in text.encode("utf-8"))


def http_build_query(params: Mapping[Any, Any]) -> str:
    """PHP's ``http_build_query($params)`` with its default arguments."""
    pairs: list[str] = []
    for key, value in params.items():
        _add(pairs, urlencode(_scalar(key)), value)
    return "&".join(pairs)


def _add(pairs: list[str], prefix: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = enumerate(value)
    else:
        pairs.append(f"{prefix}={urlencode(_scalar(value))}")
        return
    for key, item in items:
        _add(pairs, f"{prefix}%5B{urlencode(_scalar(key))}%5D", item)


def _scalar(value: Any) -> str:
    """A key or a leaf as PHP turns it into a string."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | str):
        return str(value)
    raise TypeError(f"http_build_query: {type(value).__name__} values are not supported")
