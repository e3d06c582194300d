"""JSON encoding on the hot path: orjson where it writes the same value, the standard
library where it cannot (integers beyond 64 bits, non-string keys). Either way UUIDs and
datetimes are written as orjson writes them (the writers' rows carry both).

Only encoding: orjson reads integers beyond 64 bits as floats and refuses NaN, so what the
platform parses keeps going through `json`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON of `value` (keys sorted when asked)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except TypeError:  # beyond orjson: the standard library, with the types orjson writes
        text = json.dumps(
            value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=_text
        )
        return text.encode()


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def canonical_json(value: Any) -> str:
    """Stable JSON text for hashing and comparing: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
