"""JSON encoding on the hot path: orjson where it writes the same value, the standard
library where it cannot (integers beyond 64 bits, non-string keys).

Only encoding: orjson reads integers beyond 64 bits as floats and refuses NaN, so what the
platform parses keeps going through `json` (issue 10).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON of `value` (keys sorted when asked)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except TypeError:  # beyond orjson: fall back to the standard library, same meaning
        text = json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
        return text.encode()
