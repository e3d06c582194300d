"""The contract diff's walk over two schemas: scalars, compositions, `$ref` and recursion.

Objects and arrays are in `contract_objects`; `contract.py` says what the verdicts mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.core.errors import pointer
from app.core.fastjson import canonical_json
from app.jsonschema import engine
from app.jsonschema.refs import ref_of
from app.registry import contract_objects
from app.registry.contract_refs import LOWER_BOUNDS, UPPER_BOUNDS, ChangedRefs, number, resolve

At = tuple[str | int, ...]
Verdict = Literal["compatible", "breaking", "may_break"]

_RESTRICTIONS = ("pattern", "format", "const")
# Monotone in their subschemas: a narrower part makes a narrower whole.
_MONOTONE_LISTS = ("allOf", "anyOf")
# Neither direction follows from the parts: any change may break.
_OPAQUE = ("oneOf", "not", "if", "then", "else", "unevaluatedProperties", "unevaluatedItems")
# Keywords that never change which values are valid.
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$defs",
        "definitions",
        "$anchor",
        "$dynamicAnchor",
        "$id",
        "id",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
        "x-sensitive",
        "x-grounded",
        "x-file",
        "nullable",
    }
)
_COMPARED = frozenset(
    {
        "$ref",
        "$schema",
        "type",
        "enum",
        "uniqueItems",
        "multipleOf",
        *LOWER_BOUNDS,
        *UPPER_BOUNDS,
        *_RESTRICTIONS,
        *_MONOTONE_LISTS,
        *_OPAQUE,
        *contract_objects.COMPARED,
    }
)
_MAX_DEPTH = 64


@dataclass(frozen=True)
class Change:
    side: str
    pointer: str
    kind: str
    verdict: Verdict
    message: str


@dataclass
class Walker:
    side: str
    old_root: Any
    new_root: Any
    out: list[Change]
    # Pairs of (old, new) locations already compared: a recursive schema ends, and two
    # `{"$ref": "#"}` properties cost one comparison, not 2^depth.
    seen: set[tuple[str, str]] = field(default_factory=set)
    # Which references name another schema in the new version (computed when first needed).
    changed: ChangedRefs | None = None

    def unchanged(self, old: Any, new: Any) -> bool:
        """Same text, and every `$ref` in it names the same schema in both versions."""
        if canonical_json(old) != canonical_json(new):
            return False
        if self.changed is None:
            self.changed = ChangedRefs(self.old_root, self.new_root)
        return self.changed.none_in(old)

    def differs(self, old: dict[str, Any], new: dict[str, Any], keyword: str) -> bool:
        """Whether `keyword` is on one side only, or means something else on the other."""
        if keyword not in old and keyword not in new:
            return False
        return (keyword in old) != (keyword in new) or not self.unchanged(
            old[keyword], new[keyword]
        )

    def add(self, at: At, kind: str, *, narrows: bool, message: str) -> None:
        """Record a change; narrowing breaks inputs, widening breaks outputs."""
        breaks = narrows if self.side == "input" else not narrows
        self.record(at, kind, "breaking" if breaks else "compatible", message)

    def breaking(self, at: At, kind: str, message: str) -> None:
        self.record(at, kind, "breaking", message)

    def may_break(self, at: At, kind: str, message: str) -> None:
        self.record(at, kind, "may_break", message)

    def record(self, at: At, kind: str, verdict: Verdict, message: str) -> None:
        self.out.append(Change(self.side, pointer(*at), kind, verdict, message))

    def compare(self, old: Any, new: Any, at: At, depth: int = 0) -> None:
        """Classify every difference between `old` and `new` at `at`."""
        old, old_ref = resolve(old, self.old_root)
        new, new_ref = resolve(new, self.new_root)
        if self.unchanged(old, new):
            return
        old_text, new_text = canonical_json(old), canonical_json(new)
        if old_ref or new_ref:  # only references can lead back to a pair already compared
            pair = (old_ref + old_text, new_ref + new_text)
            if pair in self.seen:
                return
            self.seen.add(pair)
        if depth > _MAX_DEPTH:
            self.may_break(at, "too_deep", f"{where(at)}: nested too deeply to compare")
            return
        if not isinstance(old, dict) or not isinstance(new, dict):
            # Boolean schemas: true accepts anything, false nothing.
            self.add(at, "schema_replaced", narrows=new is False or old is True, message=where(at))
            return
        if ref_of(old) is not None or ref_of(new) is not None:
            # Still a $ref after resolving: a dangling one (authoring refuses remote ones).
            self.may_break(at, "unresolved_reference", f"{where(at)}: a $ref changed")
            return
        if old.get("$schema") != new.get("$schema"):
            self.may_break(at, "dialect_changed", f"{where(at)}: $schema changed")
        self._types(old, new, at)
        self._enum(old, new, at)
        self._bounds(old, new, at)
        self._multiple_of(old, new, at)
        self._restrictions(old, new, at)
        self._compositions(old, new, at, depth)
        contract_objects.compare_objects(self, old, new, at, depth)
        contract_objects.compare_arrays(self, old, new, at, depth)
        self._unknown(old, new, at)

    def _types(self, old: dict[str, Any], new: dict[str, Any], at: At) -> None:
        before, after = _types(old), _types(new)
        if before == after:
            return
        shown = f"{where(at)}: type {show(before)} -> {show(after)}"
        if before is None or (after is not None and _within(after, before)):
            self.add(at, "type_narrowed", narrows=True, message=shown)
        elif after is None or _within(before, after):
            self.add(at, "type_widened", narrows=False, message=shown)
        else:
            self.breaking(at, "type_changed", shown)

    def _enum(self, old: dict[str, Any], new: dict[str, Any], at: At) -> None:
        before, after = _values(old.get("enum")), _values(new.get("enum"))
        if before == after:
            return
        if before is None:
            self.add(at, "enum_added", narrows=True, message=f"{where(at)}: now limited to an enum")
        elif after is None:
            self.add(at, "enum_removed", narrows=False, message=f"{where(at)}: enum removed")
        else:
            removed, added = sorted(before - after), sorted(after - before)
            if removed:
                message = f"{where(at)}: enum values removed: {', '.join(removed)}"
                self.add(at, "enum_narrowed", narrows=True, message=message)
            if added:
                message = f"{where(at)}: enum values added: {', '.join(added)}"
                self.add(at, "enum_widened", narrows=False, message=message)

    def _bounds(self, old: dict[str, Any], new: dict[str, Any], at: At) -> None:
        for keyword in (*LOWER_BOUNDS, *UPPER_BOUNDS):
            before, after = number(old.get(keyword)), number(new.get(keyword))
            if before == after and not self.differs(old, new, keyword):
                continue
            if before == after:  # draft 4's boolean exclusiveMinimum/Maximum, or not a number
                self.may_break(at, f"{keyword}_changed", f"{where(at)}: {keyword} changed")
                continue
            lower = keyword in LOWER_BOUNDS
            if before is None or after is None:
                narrows = before is None
            else:
                narrows = after > before if lower else after < before
            self.add(
                at,
                f"{keyword}_{'tightened' if narrows else 'loosened'}",
                narrows=narrows,
                message=f"{where(at)}: {keyword} {show(before)} -> {show(after)}",
            )
        if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
            added = bool(new.get("uniqueItems"))
            kind = "unique_items_added" if added else "unique_items_removed"
            message = f"{where(at)}: items {'now' if added else 'no longer'} unique"
            self.add(at, kind, narrows=added, message=message)

    def _multiple_of(self, old: dict[str, Any], new: dict[str, Any], at: At) -> None:
        before, after = number(old.get("multipleOf")), number(new.get("multipleOf"))
        if before == after:
            return
        message = f"{where(at)}: multipleOf {show(before)} -> {show(after)}"
        if before is None or (after is not None and engine.is_multiple(after, before)):
            self.add(at, "multiple_of_tightened", narrows=True, message=message)
        elif after is None or engine.is_multiple(before, after):
            self.add(at, "multiple_of_loosened", narrows=False, message=message)
        else:
            self.may_break(at, "multiple_of_changed", message)

    def _restrictions(self, old: dict[str, Any], new: dict[str, Any], at: At) -> None:
        for keyword in _RESTRICTIONS:
            if not self.differs(old, new, keyword):
                continue
            message = f"{where(at)}: {keyword} {show(old.get(keyword))} -> {show(new.get(keyword))}"
            if keyword not in old:
                self.add(at, f"{keyword}_added", narrows=True, message=message)
            elif keyword not in new:
                self.add(at, f"{keyword}_removed", narrows=False, message=message)
            elif keyword == "const":  # one value for another: neither contains the other
                self.breaking(at, "const_changed", message)
            else:  # another pattern or format: may or may not overlap
                self.may_break(at, f"{keyword}_changed", message)

    def _compositions(self, old: dict[str, Any], new: dict[str, Any], at: At, depth: int) -> None:
        for keyword in (*_MONOTONE_LISTS, *_OPAQUE):
            before, after = old.get(keyword), new.get(keyword)
            if not self.differs(old, new, keyword):
                continue
            if keyword not in old or keyword not in new:
                # Each of these only ever adds a condition: a new one narrows, a dropped one
                # widens (as `unevaluated*` too, beside keywords that did not change).
                added = keyword not in old
                message = f"{where(at)}: {keyword} {'added' if added else 'removed'}"
                self.add(
                    at,
                    f"{_snake(keyword)}_{'added' if added else 'removed'}",
                    narrows=added,
                    message=message,
                )
            elif keyword in _MONOTONE_LISTS and _same_length(before, after):
                for i, (b, a) in enumerate(zip(before or [], after or [], strict=True)):
                    self.compare(b, a, (*at, keyword, i), depth + 1)
            else:
                message = f"{where(at)}: {keyword} changed; compatibility cannot be proven"
                self.may_break(at, "composition_changed", message)

    def _unknown(self, old: dict[str, Any], new: dict[str, Any], at: At) -> None:
        for keyword in sorted((old.keys() | new.keys()) - _COMPARED - _ANNOTATIONS):
            if self.differs(old, new, keyword):
                self.may_break(
                    at, "keyword_changed", f"{where(at)}: {keyword} changed; not compared"
                )


def _same_length(before: Any, after: Any) -> bool:
    return isinstance(before, list) and isinstance(after, list) and len(before) == len(after)


def _snake(keyword: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in keyword)


def _types(schema: dict[str, Any]) -> frozenset[str] | None:
    value = schema.get("type")
    if value is None:
        return None
    types = set([value] if isinstance(value, str) else value)
    if schema.get("nullable") is True:  # OpenAPI 3.0 style
        types.add("null")
    return frozenset(types)


def _within(narrow: frozenset[str], wide: frozenset[str]) -> bool:
    """Whether every value of the `narrow` types is also of the `wide` types."""
    expanded = set(wide) | ({"integer"} if "number" in wide else set())
    return set(narrow) <= expanded


def _values(enum: Any) -> set[str] | None:
    return {canonical_json(v) for v in enum} if isinstance(enum, list) else None


def where(at: At) -> str:
    return pointer(*at) or "/"


def show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, frozenset):
        return "|".join(sorted(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return canonical_json(value)
