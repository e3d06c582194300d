"""The contract diff's view of `$ref`: a reference followed, its siblings added to it."""

from __future__ import annotations

from typing import Any

from app.core.fastjson import canonical_json
from app.jsonschema.refs import lookup, ref_of

LOWER_BOUNDS = (
    "minimum",
    "exclusiveMinimum",
    "minLength",
    "minItems",
    "minProperties",
    "minContains",
)
UPPER_BOUNDS = (
    "maximum",
    "exclusiveMaximum",
    "maxLength",
    "maxItems",
    "maxProperties",
    "maxContains",
)


def resolve(schema: Any, root: Any) -> tuple[Any, str]:
    """`schema` with its local `$ref`s followed and its other keywords combined with the
    target's (both apply), and the references followed ("" when none)."""
    keys: list[str] = []
    for _ in range(16):
        ref = ref_of(schema)
        target = lookup(root, ref) if ref is not None else None
        if ref is None or target is None:
            break
        keys.append(ref)
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = combine(target, siblings)
    return schema, "|".join(keys)


def combine(target: Any, siblings: dict[str, Any]) -> Any:
    """Both schemas at once: bounds take the tighter value, `required` the union; where a
    keyword differs in another way, both stay, as an `allOf`."""
    if not siblings:
        return target
    if not isinstance(target, dict):
        return {"allOf": [target, siblings]}
    merged = dict(target)
    for key, value in siblings.items():
        if key not in merged or canonical_json(merged[key]) == canonical_json(value):
            merged[key] = value
        elif key in LOWER_BOUNDS and number(value) is not None and number(merged[key]) is not None:
            merged[key] = max(merged[key], value)
        elif key in UPPER_BOUNDS and number(value) is not None and number(merged[key]) is not None:
            merged[key] = min(merged[key], value)
        elif key == "required" and isinstance(value, list) and isinstance(merged[key], list):
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        else:
            return {"allOf": [target, siblings]}
    return merged


def number(value: Any) -> float | None:
    """A JSON number as Python's, None for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


class ChangedRefs:
    """The references whose schema differs between two versions, directly or through the
    references inside it: equal text is equal meaning only if it contains none of them."""

    def __init__(self, old_root: Any, new_root: Any) -> None:
        refs = refs_in(old_root) | refs_in(new_root)
        targets = {r: (lookup(old_root, r), lookup(new_root, r)) for r in refs}
        users: dict[str, set[str]] = {}
        for ref, (old, new) in targets.items():
            for inner in refs_in(old) | refs_in(new):
                users.setdefault(inner, set()).add(ref)
        changed = {r for r, (o, n) in targets.items() if canonical_json(o) != canonical_json(n)}
        stack = list(changed)
        while stack:
            for user in users.get(stack.pop(), ()):
                if user not in changed:
                    changed.add(user)
                    stack.append(user)
        self.changed = changed

    def none_in(self, schema: Any) -> bool:
        """Whether no reference inside `schema` changed meaning."""
        return not (refs_in(schema) & self.changed)


def refs_in(schema: Any) -> set[str]:
    """Every `$ref` string anywhere inside `schema` (values of `enum` too: over-counting only
    costs a comparison)."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                found.add(ref)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found
