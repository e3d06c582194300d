"""The contract diff on objects and arrays: properties, required, additional and pattern
properties, property names, dependencies, items, prefixItems, contains."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.core.errors import pointer
from app.core.fastjson import canonical_json

if TYPE_CHECKING:
    from app.registry.contract_walk import At, Walker

COMPARED = frozenset(
    {
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "items",
        "prefixItems",
        "additionalItems",
        "contains",
    }
)


def _where(at: At) -> str:
    return pointer(*at) or "/"


def _same(a: Any, b: Any) -> bool:
    return canonical_json(a) == canonical_json(b)


# What unevaluatedProperties/Items depend on: keywords that evaluate keys or positions. When
# one changes beside them, a key or position may move into or out of "unevaluated".
_EVALUATING = {
    "unevaluatedProperties": (
        "properties", "patternProperties", "additionalProperties", "dependentSchemas",
        "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref", "$dynamicRef",
    ),
    "unevaluatedItems": (
        "prefixItems", "items", "contains", "allOf", "anyOf", "oneOf", "not", "if", "then",
        "else", "$ref", "$dynamicRef",
    ),
}  # fmt: skip


def compare_objects(
    w: Walker, old: dict[str, Any], new: dict[str, Any], at: At, depth: int
) -> None:
    _unevaluated(w, old, new, at)
    _properties(w, old, new, at, depth)
    _required(w, old, new, at)
    _additional(w, old, new, at, depth)
    _pattern_properties(w, old, new, at, depth)
    optional_schema(
        w, old.get("propertyNames"), new.get("propertyNames"), (*at, "propertyNames"), depth
    )
    for keyword in ("dependentRequired", "dependentSchemas", "dependencies"):
        _dependencies(w, old.get(keyword) or {}, new.get(keyword) or {}, (*at, keyword), depth)


def _unevaluated(w: Walker, old: dict[str, Any], new: dict[str, Any], at: At) -> None:
    for keyword, evaluating in _EVALUATING.items():
        if keyword not in old and keyword not in new:
            continue
        moved = [k for k in evaluating if w.differs(old, new, k)]
        if moved:
            w.may_break(
                at,
                "evaluation_changed",
                f"{_where(at)}: {', '.join(moved)} changed beside {keyword}",
            )


def optional_schema(w: Walker, before: Any, after: Any, at: At, depth: int) -> None:
    """A keyword whose schema narrows what it applies to (absent means no constraint)."""
    if before is None and after is None:
        return
    if before is None or after is None:
        added = before is None
        kind = f"{at[-1]}_{'added' if added else 'removed'}"
        w.add(at, kind, narrows=added, message=f"{_where(at)} {'added' if added else 'removed'}")
        return
    w.compare(before, after, at, depth + 1)


def _properties(w: Walker, old: dict[str, Any], new: dict[str, Any], at: At, depth: int) -> None:
    before: dict[str, Any] = old.get("properties") or {}
    after: dict[str, Any] = new.get("properties") or {}
    new_required = set(new.get("required") or [])
    for name in sorted(before.keys() | after.keys()):
        here = (*at, "properties", name)
        field = f"{w.side} field {name!r}"
        if name not in after:
            if w.side == "output":
                w.breaking(here, "field_removed", f"{field} was removed")
            elif _closed(new):
                w.breaking(here, "field_removed", f"{field} was removed and is now refused")
            else:
                w.add(here, "field_removed", narrows=False, message=f"{field} was removed")
        elif name not in before:
            if w.side == "input" and name in new_required:
                w.breaking(here, "required_field_added", f"new required {field}")
            elif w.side == "input":
                w.record(here, "field_added", "compatible", f"new optional {field}")
            else:
                w.record(here, "field_added", "compatible", f"new {field}")
        else:
            w.compare(before[name], after[name], here, depth + 1)


def _required(w: Walker, old: dict[str, Any], new: dict[str, Any], at: At) -> None:
    """Names that became required or optional (a brand-new field is `_properties`' part)."""
    before, after = old.get("properties") or {}, new.get("properties") or {}
    old_required, new_required = set(old.get("required") or []), set(new.get("required") or [])
    for name in sorted(new_required - old_required):
        if name in before or name not in after:
            w.add(
                (*at, "properties", name),
                "field_made_required",
                narrows=True,
                message=f"{w.side} field {name!r} is now required",
            )
    for name in sorted(old_required - new_required):
        if name in after or name not in before:
            w.add(
                (*at, "properties", name),
                "field_made_optional",
                narrows=False,
                message=f"{w.side} field {name!r} is now optional",
            )


def _additional(w: Walker, old: dict[str, Any], new: dict[str, Any], at: At, depth: int) -> None:
    before, after = old.get("additionalProperties"), new.get("additionalProperties")
    here = (*at, "additionalProperties")
    if w.unchanged(before, after):
        return
    same_keys = _same(sorted(old.get("properties") or {}), sorted(new.get("properties") or {}))
    same_patterns = _same(
        sorted(old.get("patternProperties") or {}), sorted(new.get("patternProperties") or {})
    )
    if (
        isinstance(before, dict | bool)
        and isinstance(after, dict | bool)
        and same_keys
        and same_patterns
    ):
        w.compare(before, after, here, depth + 1)
    elif w.side == "output":
        # Clients ignore fields they do not know: only a schema for them both times counts.
        if isinstance(before, dict) and isinstance(after, dict):
            w.may_break(
                here, "additional_properties_changed", f"{_where(at)}: extra fields' schema changed"
            )
    elif _closed(new) and not _closed(old):
        w.breaking(
            here,
            "additional_properties_tightened",
            f"{_where(at)}: fields not in the schema are now refused",
        )
    elif _closed(old) and after in (None, True, {}):
        w.add(
            here,
            "additional_properties_loosened",
            narrows=False,
            message=f"{_where(at)}: fields not in the schema are now accepted",
        )
    else:
        w.may_break(
            here, "additional_properties_changed", f"{_where(at)}: extra fields' schema changed"
        )


def _pattern_properties(
    w: Walker, old: dict[str, Any], new: dict[str, Any], at: At, depth: int
) -> None:
    before: dict[str, Any] = old.get("patternProperties") or {}
    after: dict[str, Any] = new.get("patternProperties") or {}
    # Without additionalProperties, a pattern only adds a constraint to matching keys.
    free = old.get("additionalProperties", True) in (True, {}) and new.get(
        "additionalProperties", True
    ) in (True, {})
    for key in sorted(before.keys() | after.keys()):
        here = (*at, "patternProperties", key)
        if key in before and key in after:
            w.compare(before[key], after[key], here, depth + 1)
        elif free:
            added = key not in before
            kind = f"pattern_property_{'added' if added else 'removed'}"
            w.add(
                here,
                kind,
                narrows=added,
                message=f"{_where(here)} {'added' if added else 'removed'}",
            )
        else:
            w.may_break(
                here,
                "pattern_property_changed",
                f"{_where(here)} changed next to additionalProperties",
            )


def _dependencies(w: Walker, before: Any, after: Any, at: At, depth: int) -> None:
    if not isinstance(before, dict) or not isinstance(after, dict):
        w.may_break(at, "dependencies_changed", f"{_where(at)} changed")
        return
    for name in sorted(before.keys() | after.keys()):
        here = (*at, name)
        old_dep, new_dep = before.get(name), after.get(name)
        if w.unchanged(old_dep, new_dep):
            continue
        if old_dep is None or new_dep is None:
            added = old_dep is None
            kind = f"dependency_{'added' if added else 'removed'}"
            w.add(
                here,
                kind,
                narrows=added,
                message=f"{_where(here)} {'added' if added else 'removed'}",
            )
        elif isinstance(old_dep, list) and isinstance(new_dep, list):
            _names(w, set(old_dep), set(new_dep), here)
        elif not isinstance(old_dep, list) and not isinstance(new_dep, list):
            w.compare(old_dep, new_dep, here, depth + 1)
        else:
            w.may_break(here, "dependency_changed", f"{_where(here)} changed kind")


def _names(w: Walker, before: set[str], after: set[str], here: At) -> None:
    message = f"{_where(here)}: {sorted(before)} -> {sorted(after)}"
    if before <= after:
        w.add(here, "dependency_tightened", narrows=True, message=message)
    elif after <= before:
        w.add(here, "dependency_loosened", narrows=False, message=message)
    else:
        w.may_break(here, "dependency_changed", message)


def compare_arrays(w: Walker, old: dict[str, Any], new: dict[str, Any], at: At, depth: int) -> None:
    old_items, new_items = old.get("items"), new.get("items")
    old_prefix, new_prefix = old.get("prefixItems"), new.get("prefixItems")
    if isinstance(old_items, list) or isinstance(new_items, list):  # draft 7 tuples
        old_prefix, new_prefix = old_items, new_items
        old_items, new_items = old.get("additionalItems"), new.get("additionalItems")
        tail = "additionalItems"
    else:
        tail = "items"
    _prefix(w, old_prefix, new_prefix, old_items, new_items, at, depth)
    optional_schema(w, old_items, new_items, (*at, tail), depth)
    optional_schema(w, old.get("contains"), new.get("contains"), (*at, "contains"), depth)


def _prefix(
    w: Walker, before: Any, after: Any, old_rest: Any, new_rest: Any, at: At, depth: int
) -> None:
    before = before if isinstance(before, list) else [] if before is None else None
    after = after if isinstance(after, list) else [] if after is None else None
    if before is None or after is None:
        w.may_break(at, "prefix_items_changed", f"{_where(at)}: prefixItems changed")
        return
    for i, (b, a) in enumerate(zip(before, after, strict=False)):
        w.compare(b, a, (*at, "prefixItems", i), depth + 1)
    if len(before) == len(after):
        return
    # Positions moved between prefixItems and items: exact only when items constrains nothing.
    if old_rest in (None, True, {}) and new_rest in (None, True, {}):
        longer = len(after) > len(before)
        kind = "prefix_items_added" if longer else "prefix_items_removed"
        w.add(
            at,
            kind,
            narrows=longer,
            message=f"{_where(at)}: {len(before)} -> {len(after)} prefixItems",
        )
    else:
        w.may_break(
            at, "prefix_items_changed", f"{_where(at)}: {len(before)} -> {len(after)} prefixItems"
        )


def _closed(schema: dict[str, Any]) -> bool:
    extra = schema.get("additionalProperties")
    return extra is False or (isinstance(extra, dict) and extra != {})
