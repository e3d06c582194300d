"""How far two outputs of one call agree, field by field (a shadow against live).

A field is a JSON Pointer to a leaf of the output (objects are walked into; an array is one
field, compared whole). Enums, booleans, integers and nulls agree when equal; other numbers
when within a relative tolerance; strings when equal after normalising case, Unicode form
and whitespace, so "Double charge." and "double  charge" agree.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import pointer as json_pointer

NUMBER_TOLERANCE = 1e-6  # relative: 0.1 + 0.2 and 0.3 agree, 0.93 and 0.94 do not
_SPACE = re.compile(r"\s+")
_MISSING = object()


def normalise(text: str) -> str:
    """A string as it is compared: NFKC, case-folded, whitespace collapsed, trailing
    punctuation and spaces dropped."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", folded).strip().rstrip(".!;,").strip()


def values_agree(left: Any, right: Any) -> bool:
    """Whether two leaf values agree (see the module's rules)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return math.isclose(left, right, rel_tol=NUMBER_TOLERANCE, abs_tol=1e-12)
    if isinstance(left, str) and isinstance(right, str):
        return normalise(left) == normalise(right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _deep_agree(a, b) for a, b in zip(left, right, strict=True)
        )
    return bool(left == right)


def _deep_agree(left: Any, right: Any) -> bool:
    if isinstance(left, dict) and isinstance(right, dict):
        keys = left.keys() | right.keys()
        return all(_deep_agree(left.get(k, _MISSING), right.get(k, _MISSING)) for k in keys)
    return values_agree(left, right)


def leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every leaf of an output as (JSON Pointer, value); an empty object is a leaf."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from leaves(child, (*path, str(key)))
    else:
        yield json_pointer(*path), value


def field_agreement(live: dict[str, Any], candidate: dict[str, Any]) -> dict[str, bool]:
    """Per field present in either output: whether the two agree on it."""
    left, right = dict(leaves(live)), dict(leaves(candidate))
    return {
        pointer: pointer in left
        and pointer in right
        and values_agree(left[pointer], right[pointer])
        for pointer in sorted(left.keys() | right.keys())
    }


@dataclass
class Agreement:
    """Agreement over many compared pairs: per field and overall (every field agreed)."""

    compared: int = 0
    agreed: int = 0
    _fields: dict[str, list[int]] = field(default_factory=dict)

    def add(self, live: dict[str, Any], candidate: dict[str, Any]) -> dict[str, bool]:
        """Count one pair; per field, whether it agreed."""
        fields = field_agreement(live, candidate)
        for pointer, same in fields.items():
            tally = self._fields.setdefault(pointer, [0, 0])
            tally[0] += same
            tally[1] += 1
        self.compared += 1
        self.agreed += all(fields.values())
        return fields

    @property
    def overall(self) -> float | None:
        return round(self.agreed / self.compared, 4) if self.compared else None

    @property
    def fields(self) -> dict[str, float]:
        return {p: round(same / seen, 4) for p, (same, seen) in sorted(self._fields.items())}
