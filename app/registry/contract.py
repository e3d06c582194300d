"""Contract diff: is a new version's API compatible with the live one, for its callers?

A caller *sends* inputs and *reads* outputs, so the two schemas change in opposite ways:

- input: every input the old schema accepted must still be accepted. Widening is compatible
  (a new optional field, a wider type, more enum values, looser bounds); narrowing is
  breaking (a new required field, a narrower or other type, fewer enum values, tighter
  min/max/length/items bounds, a new pattern/format/const/multipleOf, additionalProperties
  closed, a field removed while additionalProperties is closed).
- output: every output the new schema allows must be one the old schema allowed, so code
  written against it keeps working. Narrowing is compatible (a new field or newly required
  field, fewer enum values, tighter bounds); widening is breaking (a removed field, a field
  made optional, a retyped or newly nullable field, more enum values, looser bounds, a
  dropped pattern/format/const). New output fields are compatible: clients ignore unknown
  fields (additionalProperties on the output is not part of the contract a client relies on).
  Likewise a new optional input field is compatible even on an open input schema: callers
  sending undocumented fields are not a contract to keep.

Where compatibility cannot be decided structurally (a changed `anyOf`/`oneOf`/`allOf`/`not`,
a non-local `$ref`), the change is reported as breaking: a publish then needs a human's
confirmation rather than a guess. Pure functions, no I/O.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from app.core.errors import pointer
from app.core.fastjson import canonical_json
from app.jsonschema.refs import deref

Side = Literal["input", "output"]


class ContractChange(BaseModel):
    """One change of the API contract, where it is and whether it breaks callers."""

    side: Side
    pointer: str  # JSON Pointer into the spec document, e.g. /input_schema/properties/email
    kind: str
    breaking: bool
    message: str


class ContractDiff(BaseModel):
    """Every contract change from one version to another; `breaking` if any of them is."""

    breaking: bool
    changes: list[ContractChange]

    @property
    def breaking_changes(self) -> list[ContractChange]:
        return [c for c in self.changes if c.breaking]


# keyword -> True when a larger value is tighter (a lower bound), False when looser.
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_RESTRICTIONS = ("pattern", "format", "multipleOf", "const")
_COMPOSITIONS = ("anyOf", "oneOf", "allOf", "not", "if", "then", "else")
_MAX_DEPTH = 64


def classify_contract(
    old_input: dict[str, Any],
    old_output: dict[str, Any],
    new_input: dict[str, Any],
    new_output: dict[str, Any],
) -> ContractDiff:
    """Compare two versions' input and output schemas and classify every change."""
    changes: list[ContractChange] = []
    _Walker("input", old_input, new_input, changes).compare(old_input, new_input, ("input_schema",))
    _Walker("output", old_output, new_output, changes).compare(
        old_output, new_output, ("output_schema",)
    )
    return ContractDiff(breaking=any(c.breaking for c in changes), changes=changes)


class _Walker:
    def __init__(
        self, side: Side, old_root: dict[str, Any], new_root: dict[str, Any], out: list[Any]
    ) -> None:
        self.side = side
        self.old_root = old_root
        self.new_root = new_root
        self.out = out

    def add(self, at: tuple[str | int, ...], kind: str, *, narrows: bool, message: str) -> None:
        """Record a change; narrowing breaks inputs, widening breaks outputs."""
        self.record(at, kind, narrows if self.side == "input" else not narrows, message)

    def breaking(self, at: tuple[str | int, ...], kind: str, message: str) -> None:
        self.record(at, kind, True, message)

    def record(self, at: tuple[str | int, ...], kind: str, breaking: bool, message: str) -> None:
        self.out.append(
            ContractChange(
                side=self.side, pointer=pointer(*at), kind=kind, breaking=breaking, message=message
            )
        )

    def compare(self, old: Any, new: Any, at: tuple[str | int, ...], depth: int = 0) -> None:
        # Keywords beside a `$ref` constrain too, so they stay on top of its target.
        old = deref(old, self.old_root, keep_siblings=True)
        new = deref(new, self.new_root, keep_siblings=True)
        if depth > _MAX_DEPTH or canonical_json(old) == canonical_json(new):
            return
        if not isinstance(old, dict) or not isinstance(new, dict):
            # Boolean schemas: true accepts anything, false nothing.
            self.add(at, "schema_replaced", narrows=new is False or old is True, message=_f(at))
            return
        if isinstance(old.get("$ref"), str) or isinstance(new.get("$ref"), str):
            # Still a $ref after resolving: a remote or dangling one, not comparable here.
            self.breaking(at, "unresolved_reference", f"{_f(at)}: a $ref changed")
            return
        self._types(old, new, at)
        self._enum(old, new, at)
        self._bounds(old, new, at)
        self._restrictions(old, new, at)
        self._compositions(old, new, at)
        self._properties(old, new, at, depth)
        self._items(old, new, at, depth)

    def _types(self, old: dict[str, Any], new: dict[str, Any], at: tuple[str | int, ...]) -> None:
        before, after = _types(old), _types(new)
        if before == after:
            return
        shown = f"{_f(at)}: type {_show(before)} -> {_show(after)}"
        if before is None or (after is not None and _within(after, before)):
            self.add(at, "type_narrowed", narrows=True, message=shown)
        elif after is None or _within(before, after):
            self.add(at, "type_widened", narrows=False, message=shown)
        else:
            self.breaking(at, "type_changed", shown)

    def _enum(self, old: dict[str, Any], new: dict[str, Any], at: tuple[str | int, ...]) -> None:
        before, after = _values(old.get("enum")), _values(new.get("enum"))
        if before == after:
            return
        if before is None:
            self.add(at, "enum_added", narrows=True, message=f"{_f(at)}: now limited to an enum")
        elif after is None:
            self.add(at, "enum_removed", narrows=False, message=f"{_f(at)}: enum removed")
        else:
            removed, added = sorted(before - after), sorted(after - before)
            if removed:
                self.add(
                    at,
                    "enum_narrowed",
                    narrows=True,
                    message=f"{_f(at)}: enum values removed: {', '.join(removed)}",
                )
            if added:
                self.add(
                    at,
                    "enum_widened",
                    narrows=False,
                    message=f"{_f(at)}: enum values added: {', '.join(added)}",
                )

    def _bounds(self, old: dict[str, Any], new: dict[str, Any], at: tuple[str | int, ...]) -> None:
        for keyword in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
            before, after = _number(old.get(keyword)), _number(new.get(keyword))
            if before == after:
                continue
            lower = keyword in _LOWER_BOUNDS
            if before is None or after is None:
                narrows = before is None
            else:
                narrows = after > before if lower else after < before
            self.add(
                at,
                f"{keyword}_{'tightened' if narrows else 'loosened'}",
                narrows=narrows,
                message=f"{_f(at)}: {keyword} {_show(before)} -> {_show(after)}",
            )
        if not old.get("uniqueItems") and new.get("uniqueItems"):
            self.add(at, "unique_items_added", narrows=True, message=f"{_f(at)}: items now unique")
        elif old.get("uniqueItems") and not new.get("uniqueItems"):
            self.add(at, "unique_items_removed", narrows=False, message=f"{_f(at)}: not unique")

    def _restrictions(
        self, old: dict[str, Any], new: dict[str, Any], at: tuple[str | int, ...]
    ) -> None:
        for keyword in _RESTRICTIONS:
            if keyword not in old and keyword not in new:
                continue
            before, after = old.get(keyword), new.get(keyword)
            if (
                keyword in old
                and keyword in new
                and canonical_json(before) == canonical_json(after)
            ):
                continue
            message = f"{_f(at)}: {keyword} {_show(before)} -> {_show(after)}"
            if keyword not in old:
                self.add(at, f"{_snake(keyword)}_added", narrows=True, message=message)
            elif keyword not in new:
                self.add(at, f"{_snake(keyword)}_removed", narrows=False, message=message)
            else:  # neither clearly wider nor narrower
                self.breaking(at, f"{_snake(keyword)}_changed", message)

    def _compositions(
        self, old: dict[str, Any], new: dict[str, Any], at: tuple[str | int, ...]
    ) -> None:
        for keyword in _COMPOSITIONS:
            if canonical_json(old.get(keyword)) != canonical_json(new.get(keyword)):
                self.breaking(
                    at,
                    "composition_changed",
                    f"{_f(at)}: {keyword} changed; compatibility cannot be proven",
                )

    def _properties(
        self, old: dict[str, Any], new: dict[str, Any], at: tuple[str | int, ...], depth: int
    ) -> None:
        before: dict[str, Any] = old.get("properties") or {}
        after: dict[str, Any] = new.get("properties") or {}
        new_required = set(new.get("required") or [])
        for name in sorted(before.keys() | after.keys()):
            here = (*at, "properties", name)
            if name not in after:
                self._field_removed(here, name, refused=_closed(new))
            elif name not in before:
                self._field_added(here, name, required=name in new_required)
            else:
                self.compare(before[name], after[name], here, depth + 1)
        self._required(old, new, at, before, after)
        if self.side == "input":
            self._additional_properties(_closed(old), _closed(new), at)

    def _field_removed(self, here: tuple[str | int, ...], name: str, *, refused: bool) -> None:
        """A field gone: outputs lose it, inputs that send it are refused if now closed."""
        field = f"{self.side} field {name!r}"
        if self.side == "output":
            self.breaking(here, "field_removed", f"{field} was removed")
        elif refused:
            self.breaking(here, "field_removed", f"{field} was removed and is now refused")
        else:
            self.add(here, "field_removed", narrows=False, message=f"{field} was removed")

    def _field_added(self, here: tuple[str | int, ...], name: str, *, required: bool) -> None:
        """A new field: breaking only when callers must now send it."""
        field = f"{self.side} field {name!r}"
        if self.side == "input" and required:
            self.breaking(here, "required_field_added", f"new required {field}")
            return
        message = f"new optional {field}" if self.side == "input" else f"new {field}"
        self.record(here, "field_added", False, message)

    def _required(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        at: tuple[str | int, ...],
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> None:
        """Fields that existed on both sides and became required or optional."""
        old_required = set(old.get("required") or [])
        new_required = set(new.get("required") or [])
        for names, declared, kind, narrows, now in (
            (new_required - old_required, before, "field_made_required", True, "required"),
            (old_required - new_required, after, "field_made_optional", False, "optional"),
        ):
            for name in sorted(names):
                if name in declared:
                    self.add(
                        (*at, "properties", name),
                        kind,
                        narrows=narrows,
                        message=f"{self.side} field {name!r} is now {now}",
                    )

    def _additional_properties(
        self, closed_before: bool, closed_after: bool, at: tuple[str | int, ...]
    ) -> None:
        """An input schema closed to (or opened to) fields it does not declare."""
        if closed_after and not closed_before:
            self.breaking(
                (*at, "additionalProperties"),
                "additional_properties_tightened",
                f"{_f(at)}: fields not in the schema are now refused",
            )
        elif closed_before and not closed_after:
            self.add(
                (*at, "additionalProperties"),
                "additional_properties_loosened",
                narrows=False,
                message=f"{_f(at)}: fields not in the schema are now accepted",
            )

    def _items(
        self, old: dict[str, Any], new: dict[str, Any], at: tuple[str | int, ...], depth: int
    ) -> None:
        before, after = old.get("items"), new.get("items")
        if before is None and after is None:
            return
        if before is None or after is None:
            self.add(
                (*at, "items"),
                "items_constrained" if before is None else "items_unconstrained",
                narrows=before is None,
                message=f"{_f(at)}: item schema {'added' if before is None else 'removed'}",
            )
            return
        self.compare(before, after, (*at, "items"), depth + 1)
        if canonical_json(old.get("prefixItems")) != canonical_json(new.get("prefixItems")):
            self.breaking(at, "composition_changed", f"{_f(at)}: prefixItems changed")


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


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _closed(schema: dict[str, Any]) -> bool:
    extra = schema.get("additionalProperties")
    return extra is False or (isinstance(extra, dict) and extra != {})


def _f(at: tuple[str | int, ...]) -> str:
    return pointer(*at) or "/"


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, frozenset):
        return "|".join(sorted(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return canonical_json(value)


def _snake(keyword: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in keyword)
