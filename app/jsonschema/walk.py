"""The subschemas of a schema, by keyword: what is a schema and what is only data.

A plain walk over every dict would take an `enum` value or a property *named* `$ref` for a
schema; this walk follows only the keywords whose values are schemas (every dialect's).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]

# keyword -> how its value holds schemas: one schema, a list of them, or a map of them.
ONE = frozenset(
    {
        "additionalProperties",
        "additionalItems",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contains",
        "propertyNames",
        "not",
        "if",
        "then",
        "else",
        "contentSchema",
    }
)
MANY = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
MAP = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
# Applied to the same value as the schema that holds them (no step into the value).
IN_PLACE_ONE = frozenset({"not", "if", "then", "else"})
IN_PLACE_MANY = frozenset({"allOf", "anyOf", "oneOf"})


def children(schema: Any) -> Iterator[tuple[Path, Any]]:
    """(relative path, subschema) of each schema directly inside `schema`."""
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        if key in ONE:
            yield (key,), value
        elif key in MANY and isinstance(value, list):
            yield from (((key, i), sub) for i, sub in enumerate(value))
        elif key in MAP and isinstance(value, dict):
            yield from (((key, name), sub) for name, sub in value.items())
        elif key == "items":
            if isinstance(value, list):  # draft 7 tuple form
                yield from ((("items", i), sub) for i, sub in enumerate(value))
            else:
                yield ("items",), value
        elif key == "dependencies" and isinstance(value, dict):  # draft 7: schemas or names
            yield from (
                (("dependencies", n), s) for n, s in value.items() if not isinstance(s, list)
            )


def in_place(schema: Any) -> Iterator[Any]:
    """The subschemas applied to the very value `schema` is applied to (no `$ref`)."""
    if not isinstance(schema, dict):
        return
    for key in IN_PLACE_ONE:
        if key in schema:
            yield schema[key]
    for key in IN_PLACE_MANY:
        if isinstance(schema.get(key), list):
            yield from schema[key]
    for key in ("dependentSchemas", "dependencies"):
        if isinstance(schema.get(key), dict):
            yield from (s for s in schema[key].values() if not isinstance(s, list))


def everywhere(schema: Any) -> Iterator[tuple[Path, Any]]:
    """(path from the root, subschema) of the schema and every schema inside it."""
    stack: list[tuple[Path, Any]] = [((), schema)]
    while stack:
        path, node = stack.pop()
        yield path, node
        stack.extend((path + rel, sub) for rel, sub in reversed(list(children(node))))
