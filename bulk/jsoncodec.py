"""JSON on the hot path: orjson where it can, the standard library where it cannot.

orjson parses and encodes two to three times faster than the standard library, which
counts at a million rows (two JSON cells in, one body out, one answer back per row). It
refuses what the standard library accepts (NaN, integers beyond 64 bits, text that is
not valid Unicode), so every refusal goes to the standard library, whose result (or
error message, which users see in row errors) is the one that stands.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps", "loads"]

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def loads(text: str | bytes) -> Any:
    """Like ``json.loads``; raises its ``ValueError`` (with ``msg`` and ``pos``)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON: what ``json.dumps(value, ensure_ascii=False,
    separators=(",", ":")).encode()`` gives, byte for byte but for floats, which are the
    same numbers but may be spelled otherwise (``1e-05`` or ``0.00001``). NaN and
    infinities are not JSON; bulk never encodes them (a weight must be finite). Raises
    ``UnicodeEncodeError`` for text that is not valid Unicode (a lone surrogate)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return _ENCODE(value).encode()
