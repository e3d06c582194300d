"""CEL types for the write-time check of a spec's checks, read from JSON Schemas.

A `CelType` is what a node of an expression can be: a set of CEL kinds (`string`, `int`,
`double`, `bool`, `null`, `map`, `list`…; empty when any value is possible) and, for maps
and lists, the schema that says more. JSON numbers are doubles, as in CEL's JSON mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.jsonschema.refs import deref

Schema = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CelType:
    """What a node can be: CEL kinds (empty: dynamic) and, for maps and lists, the schema."""

    kinds: frozenset[str]
    schema: Schema | None = None
    label: str = "the value"
    root: Schema | None = None  # the document `schema`'s local $refs point into

    @property
    def dynamic(self) -> bool:
        return not self.kinds

    def only(self, *kinds: str) -> bool:
        """Whether every kind it can be is among `kinds` (a dynamic value never is)."""
        return bool(self.kinds) and self.kinds <= set(kinds)

    def meets(self, other: CelType) -> bool:
        """Whether some value of one may equal or be ordered with some value of the other
        (CEL compares ints with doubles)."""
        if self.dynamic or other.dynamic:
            return True
        return bool(_comparable(self.kinds) & _comparable(other.kinds))


def _comparable(kinds: frozenset[str]) -> set[str]:
    return {"number" if k in ("int", "double") else k for k in kinds}


def kind(*kinds: str, label: str = "the value") -> CelType:
    return CelType(frozenset(kinds), None, label)


DYN = CelType(frozenset())
BOOL = kind("bool")
INT = kind("int")
DOUBLE = kind("double")  # every JSON number: CEL maps JSON numbers to doubles
STRING = kind("string")
_JSON_KINDS = {
    "string": "string",
    "integer": "double",
    "number": "double",
    "boolean": "bool",
    "null": "null",
    "object": "map",
    "array": "list",
}
# Branches within branches deeper than this (a cycle through `$ref`) are left dynamic.
_MAX_BRANCH_DEPTH = 16


def from_schema(schema: Any, root: Schema, label: str, depth: int = 0) -> CelType:
    """The CEL type of values a (sub)schema admits."""
    node = deref(schema, root)
    if not isinstance(node, Mapping) or depth > _MAX_BRANCH_DEPTH:
        return CelType(frozenset(), None, label, root)
    kinds: set[str] = set()
    declared = node.get("type")
    for name in [declared] if isinstance(declared, str) else declared or []:
        if name in _JSON_KINDS:
            kinds.add(_JSON_KINDS[name])
    if not kinds:
        kinds = _value_kinds(node) or _branch_kinds(node, root, depth)
    return CelType(frozenset(kinds), node, label, root)


def _value_kinds(node: Mapping[str, Any]) -> set[str]:
    values = node.get("enum") if isinstance(node.get("enum"), list) else None
    if values is None and "const" in node:
        values = [node["const"]]
    return {_value_kind(v) for v in values or []}


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "double"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "list" if isinstance(value, list) else "map"


def _branch_kinds(node: Mapping[str, Any], root: Schema, depth: int) -> set[str]:
    kinds: set[str] = set()
    for keyword in ("anyOf", "oneOf"):
        for branch in node.get(keyword) or []:
            branch_type = from_schema(branch, root, "", depth + 1)
            if branch_type.dynamic:
                return set()  # one open branch: the value may be anything
            kinds |= branch_type.kinds
    return kinds


_NAMES = {
    "map": "an object",
    "list": "an array",
    "bool": "a boolean",
    "null": "null",
    "int": "an integer",
    "uint": "an unsigned integer",
    "double": "a number",
}


def described(kind: CelType) -> str:
    """What a node is, named where it has a name: "output.total (a number)"."""
    named = kind.label not in ("the value", "a list", "a map")
    return f"{kind.label} ({what(kind)})" if named else what(kind)


def what(kind: CelType) -> str:
    """Its kinds in words: "a string", "a number or null"."""
    if kind.dynamic:
        return "any value"
    words = sorted(_NAMES.get(k, f"a {k}") for k in kind.kinds)
    return " or ".join(words)
