"""Assertions checked against the output schema before a case is saved: a path no valid
output can have (a typo such as `/decison`), or an `equals`/`one_of` value the field's
schema refuses, makes a case that can only fail, and fails only when it runs.

The check is lenient where the schema is: a path is refused only when no branch of the
schema can hold it, and a value only when every schema the path may have refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from jsonschema.protocols import Validator

from app.core.errors import Issue, pointer
from app.jsonschema import ecma
from app.jsonschema.refs import lookup, ref_of

_MAX_DEPTH = 32  # $ref hops and nesting followed for one path
_COMBINATORS = ("allOf", "anyOf", "oneOf")
_OBJECT_KEYS = ("properties", "patternProperties", "additionalProperties")
_ARRAY_KEYS = ("items", "prefixItems")


class Assertion(Protocol):
    """What the check reads of an assertion (app.compiler.document.Assertion)."""

    @property
    def path(self) -> str: ...
    @property
    def equals(self) -> Any: ...
    @property
    def one_of(self) -> list[Any] | None: ...
    @property
    def model_fields_set(self) -> set[str]: ...


def assertion_issues(validator: Validator, expect: Sequence[Assertion]) -> list[Issue]:
    """Problems of `expect` (pointers relative to the list) under `validator`'s schema."""
    root = validator.schema
    issues: list[Issue] = []
    for index, assertion in enumerate(expect):
        tokens = _tokens(assertion.path)
        if tokens is None:
            issues.append(Issue(pointer(index, "path"), "not a JSON Pointer (use /field/0/name)"))
            continue
        found = list(_schemas_at(root, root, tokens, 0))
        if not found:
            issues.append(
                Issue(
                    pointer(index, "path"),
                    f"no output valid against the output schema has {assertion.path!r}",
                )
            )
            continue
        issues += _value_issues(validator, found, assertion, index)
    return issues


def _value_issues(
    validator: Validator, found: list[Any], assertion: Assertion, index: int
) -> list[Issue]:
    values: list[tuple[tuple[str | int, ...], Any]] = []
    if "equals" in assertion.model_fields_set:
        values.append(((index, "equals"), assertion.equals))
    values += [((index, "one_of", n), v) for n, v in enumerate(assertion.one_of or [])]
    issues = []
    for at, value in values:
        if not any(_allows(validator, schema, value) for schema in found):
            issues.append(
                Issue(
                    pointer(*at),
                    f"{value!r} can never be at {assertion.path or '/'}: "
                    "the output schema does not allow it there",
                )
            )
    return issues


def _allows(validator: Validator, schema: Any, value: Any) -> bool:
    # evolve keeps the root's resolver, so the subschema's "#/..." refs still resolve.
    return bool(validator.evolve(schema=schema).is_valid(value))


def _tokens(path: str) -> list[str] | None:
    if path == "":
        return []
    if not path.startswith("/"):
        return None
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _schemas_at(root: Any, schema: Any, tokens: list[str], depth: int) -> Iterator[Any]:
    """Every subschema the value at `tokens` may have to follow (none: it cannot exist)."""
    if depth > _MAX_DEPTH:
        yield True  # too deep to tell: never refuse on a guess
        return
    ref = ref_of(schema)
    if ref is not None:
        target = lookup(root, ref) if ref.startswith("#") else True
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        if target is None:
            return
        if siblings:
            yield from _all_of(root, [target, siblings], tokens, depth)
        else:
            yield from _schemas_at(root, target, tokens, depth + 1)
        return
    if not tokens:
        yield schema
        return
    if schema is True or schema == {}:
        yield True
        return
    if not isinstance(schema, dict):
        return
    yield from _through_combinators(root, schema, tokens, depth)
    head, rest = tokens[0], tokens[1:]
    for child in _children(schema, head):
        yield from _schemas_at(root, child, rest, depth + 1)


def _all_of(root: Any, parts: list[Any], tokens: list[str], depth: int) -> Iterator[Any]:
    # A value under allOf must satisfy every part: the path exists only if each part allows
    # it. The parts' subschemas are all yielded (a value is checked against any of them).
    found = [list(_schemas_at(root, part, tokens, depth + 1)) for part in parts]
    if all(found):
        for schemas in found:
            yield from schemas


def _through_combinators(
    root: Any, schema: dict[str, Any], tokens: list[str], depth: int
) -> Iterator[Any]:
    for key in _COMBINATORS:
        for branch in schema.get(key) or []:
            yield from _schemas_at(root, branch, tokens, depth + 1)
    for key in ("then", "else"):
        if key in schema:
            yield from _schemas_at(root, schema[key], tokens, depth + 1)


def _children(schema: dict[str, Any], head: str) -> list[Any]:
    """The subschemas of `schema`'s member or item named `head`.

    A property the schema does not declare is refused when the schema lists its properties
    and says nothing of others: an assertion on an undeclared field is almost always a typo,
    and a model following the schema has no reason to write it.
    """
    structural = any(k in schema for k in (*_OBJECT_KEYS, *_ARRAY_KEYS))
    if not structural:
        free = not any(k in schema for k in _COMBINATORS) and "then" not in schema
        return [True] if free and _may_be_container(schema) else []
    children: list[Any] = []
    if _may_be(schema, "object"):
        children += _members(schema, head)
    if _may_be(schema, "array") and head.isdigit():
        children += _items(schema, int(head))
    return children


def _members(schema: dict[str, Any], name: str) -> list[Any]:
    properties = schema.get("properties") or {}
    if name in properties:
        return [properties[name]]
    matched = [s for p, s in (schema.get("patternProperties") or {}).items() if _search(p, name)]
    if matched:
        return matched
    if "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        return [] if extra is False else [extra]
    return [] if properties or schema.get("patternProperties") else [True]


def _items(schema: dict[str, Any], index: int) -> list[Any]:
    max_items = schema.get("maxItems")
    if isinstance(max_items, int) and index >= max_items:
        return []
    prefix = schema.get("prefixItems") or []
    if index < len(prefix):
        return [prefix[index]]
    items = schema.get("items", True)
    return [] if items is False else [items]


def _may_be(schema: dict[str, Any], kind: str) -> bool:
    declared = schema.get("type")
    if declared is None:
        return any(k in schema for k in (_OBJECT_KEYS if kind == "object" else _ARRAY_KEYS))
    return kind in declared if isinstance(declared, list) else declared == kind


def _may_be_container(schema: dict[str, Any]) -> bool:
    declared = schema.get("type")
    if declared is None:
        return "enum" not in schema and "const" not in schema
    kinds = declared if isinstance(declared, list) else [declared]
    return "object" in kinds or "array" in kinds


def _search(pattern: str, name: str) -> bool:
    # The validator's own reading of patternProperties: ECMA-262, linear time.
    return ecma.search(pattern, name)
