"""What makes a schema unfit to serve, found when it is written rather than when it is used.

`schema_problems(schema)` returns every reason, each at a path into the schema:

* a `$schema` Specloom does not read (see `engine.DIALECTS`);
* anything the dialect's metaschema refuses (patterns checked as ECMA-262, see `ecma`);
* a pattern (`pattern`, a `patternProperties` key) that cannot be matched in linear time;
* a `$ref` that does not resolve inside the document: remote and relative-file references
  are never fetched, so they are refused with a hint to inline them;
* a cycle of references that never steps into the value (`a -> b -> a` through `$ref`,
  `allOf`, `anyOf`…): validating anything under it would recurse without end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import referencing.jsonschema
from jsonschema.exceptions import best_match
from jsonschema_specifications import REGISTRY

from app.jsonschema import ecma, engine, walk
from app.jsonschema.walk import Path

Problem = tuple[Path, str]
_REFS = ("$ref", "$dynamicRef", "$recursiveRef")
_INLINE = (
    "references are never fetched: inline the schema under $defs and refer to it as #/$defs/NAME"
)


def schema_problems(schema: Any) -> list[Problem]:
    """Every problem of `schema` as (path into it, message); empty when it can be served."""
    if engine.dialect_of(schema) is None:
        known = ", ".join(f"https://{uri}" for uri in engine.DIALECTS)
        return [(("$schema",), f"unsupported $schema; use one of {known}")]
    meta = engine.metaschema_validator(schema)
    error = best_match(meta.iter_errors(schema)) if meta is not None else None
    if error is not None:
        message = error.message
        if error.validator == "format" and error.validator_value == "regex":
            message = f"{error.instance!r} is {ecma.REFUSED}"
        return [(tuple(error.path), f"not a valid JSON Schema: {message}")]
    problems = list(_pattern_problems(schema))
    targets, ref_problems = _references(schema)
    return problems + ref_problems + _cycles(schema, targets)


def _pattern_problems(schema: Any) -> Iterator[Problem]:
    for path, node in walk.everywhere(schema):
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("pattern"), str) and ecma.compile_pattern(node["pattern"]) is None:
            yield (*path, "pattern"), f"{node['pattern']!r} is {ecma.REFUSED}"
        for key in node.get("patternProperties") or {}:
            if ecma.compile_pattern(key) is None:
                yield (*path, "patternProperties", key), f"{key!r} is {ecma.REFUSED}"


def _references(schema: Any) -> tuple[dict[int, list[Any]], list[Problem]]:
    """Where each subschema's references lead (by the subschema's id()), and the problems."""
    spec = referencing.jsonschema.specification_with(
        str(schema.get("$schema", "")) if isinstance(schema, dict) else "",
        default=referencing.jsonschema.DRAFT202012,
    )
    root = REGISTRY.resolver_with_root(spec.create_resource(schema))
    targets: dict[int, list[Any]] = {}
    problems: list[Problem] = []
    stack: list[tuple[Path, Any, Any]] = [((), schema, root)]
    while stack:
        path, node, resolver = stack.pop()
        if not isinstance(node, dict):
            continue
        resolver = resolver.in_subresource(spec.create_resource(node))
        for keyword in _REFS:
            ref = node.get(keyword)
            if not isinstance(ref, str):
                continue
            try:
                targets.setdefault(id(node), []).append(resolver.lookup(ref).contents)
            except referencing.exceptions.Unresolvable:
                problems.append(((*path, keyword), _unresolved(ref)))
        stack.extend((path + rel, sub, resolver) for rel, sub in walk.children(node))
    return targets, problems


def _unresolved(ref: str) -> str:
    if ref.startswith("#"):
        return f"{ref!r} names nothing in this schema"
    return f"{ref!r} points outside the document; {_INLINE}"


def _cycles(schema: Any, targets: dict[int, list[Any]]) -> list[Problem]:
    """A problem for each subschema that reaches itself without stepping into the value."""
    problems: list[Problem] = []
    for path, node in walk.everywhere(schema):
        if isinstance(node, dict) and id(node) in targets and _reaches_itself(node, targets):
            problems.append(
                (
                    path,
                    "a cycle of references that never steps into the value: validating "
                    "would recurse forever (a recursive schema must go through properties, "
                    "items or the like)",
                )
            )
    return problems


def _reaches_itself(start: dict[str, Any], targets: dict[int, list[Any]]) -> bool:
    seen: set[int] = set()
    stack = _in_place_next(start, targets)
    while stack:
        node = stack.pop()
        if node is start:
            return True
        if id(node) in seen or not isinstance(node, dict):
            continue
        seen.add(id(node))
        stack.extend(_in_place_next(node, targets))
    return False


def _in_place_next(node: Any, targets: dict[int, list[Any]]) -> list[Any]:
    return [*walk.in_place(node), *targets.get(id(node), [])]
