"""Grounding: an output string marked `x-grounded` must appear in the input's text.

`x-grounded: true` (or `{min_similarity: 0.9}`) on a string schema of the output — a
property, or an array's `items` — says each such value is copied from the input, the most
common hallucination in extraction being a value that is not there. The input's text is
every string in the input as the model read it (documents as their extracted text); both
sides are compared after NFKC normalisation, case folding and collapsing whitespace, so
a full-width "KUBERNETES" is found in "... kubernetes ...". With `min_similarity`, a value
is also found when RapidFuzz's `partial_ratio` (the best-matching substring of the text, as
a 0 to 1 score) reaches it: OCR'd and re-typed documents rarely match character for
character. RapidFuzz rather than difflib: its partial ratio is C++ and linear in the text
for short values, where difflib's SequenceMatcher would be quadratic on a long document.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from app.core.errors import Issue, pointer
from app.jsonschema.refs import deref, ref_of

KEYWORD = "x-grounded"
CHECK_NAME = "x-grounded"
_EVERY_ITEM = None  # a path step standing for every item of an array
MAX_DEPTH = 64  # deeper than any document may nest (its schema depth limit is lower)


@dataclass(frozen=True, slots=True)
class GroundedField:
    """Where grounded strings sit in the output: property names, `None` for every item."""

    path: tuple[str | None, ...]
    min_similarity: float | None


def grounded_fields(schema: Mapping[str, Any]) -> tuple[GroundedField, ...]:
    """Every place of the output schema that holds grounded strings (local `$ref`s followed
    once along each path: a recursive schema is walked to its first repetition)."""
    found: list[GroundedField] = []
    _collect(schema, schema, (), found, frozenset())
    return tuple(found)


def _collect(
    node: Any,
    root: Mapping[str, Any],
    path: tuple[str | None, ...],
    found: list[GroundedField],
    followed: frozenset[str],
) -> None:
    ref = ref_of(node)
    if ref is not None:
        if ref in followed:
            return  # a cycle: every place it leads to has been walked already on this path
        followed = followed | {ref}
    node = deref(node, root)
    if not isinstance(node, Mapping) or len(path) > MAX_DEPTH:
        return
    marker = node.get(KEYWORD)
    if marker is not None and marker is not False and is_string_schema(node):
        found.append(GroundedField(path, _min_similarity(marker)))
    properties = node.get("properties")
    if isinstance(properties, Mapping):
        for name, sub in properties.items():
            _collect(sub, root, (*path, name), found, followed)
    items = node.get("items")
    if isinstance(items, Mapping):
        _collect(items, root, (*path, _EVERY_ITEM), found, followed)


def is_string_schema(node: Mapping[str, Any]) -> bool:
    """Whether the schema's `type` is, or includes, "string"."""
    kind = node.get("type")
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def _min_similarity(marker: Any) -> float | None:
    if isinstance(marker, Mapping):
        value = marker.get("min_similarity")
        return float(value) if isinstance(value, int | float) else None
    return None


def marker_problems(marker: Any) -> str | None:
    """What is wrong with an `x-grounded` value, or None when it is well formed."""
    if isinstance(marker, bool):
        return None
    if not isinstance(marker, Mapping) or set(marker) - {"min_similarity"}:
        return "x-grounded is true, false or {min_similarity: a number from 0 to 1}"
    value = marker.get("min_similarity")
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1
    ):
        return "min_similarity is a number above 0 and at most 1"
    return None


def normalise(text: str) -> str:
    """Text as grounding compares it: NFKC, case-folded, runs of whitespace as one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


class InputText:
    """The input's strings, normalised once and searched for each grounded value."""

    __slots__ = ("_source", "_text")

    def __init__(self, source: Any) -> None:
        self._source = source
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "\n".join(normalise(s) for s in _strings(self._source))
        return self._text

    def holds(self, value: str, min_similarity: float | None) -> bool:
        """Whether `value` appears in the input (or comes close enough to a part of it)."""
        needle = normalise(value)
        if not needle or needle in self.text:
            return True
        if min_similarity is None:
            return False
        return fuzz.partial_ratio(needle, self.text) >= min_similarity * 100


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def ungrounded(fields: tuple[GroundedField, ...], output: Any, source: InputText) -> list[Issue]:
    """An issue for each grounded value of `output` that does not appear in the input."""
    issues: list[Issue] = []
    for field in fields:
        for at, value in _values(output, field.path, ()):
            if isinstance(value, str) and not source.holds(value, field.min_similarity):
                issues.append(
                    Issue(
                        pointer(*at),
                        f"{_shown(value)} does not appear in the input: give only values "
                        "found in the input",
                        check=CHECK_NAME,
                    )
                )
    return issues


def _values(
    value: Any, path: tuple[str | None, ...], at: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if not path:
        yield at, value
        return
    step, rest = path[0], path[1:]
    if step is _EVERY_ITEM:
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from _values(item, rest, (*at, i))
    elif isinstance(value, Mapping) and step in value:
        yield from _values(value[step], rest, (*at, step))


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")
