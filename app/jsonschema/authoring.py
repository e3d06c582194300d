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

import jsonschema_rs
import referencing.jsonschema
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
    try:
        # jsonschema-rs checks against the dialect's metaschema in milliseconds where
        # jsonschema takes seconds on a large schema; patterns are checked below, as ECMA-262.
        jsonschema_rs.meta.validate(schema)
    except jsonschema_rs.ValidationError as exc:
        return [(tuple(exc.instance_path), f"not a valid JSON Schema: {exc.message}")]
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
    """A problem where a walk that never steps into the value comes back to a schema it is
    still inside (one depth-first search over the in-place edges: linear in the schema)."""
    paths = {id(node): path for path, node in walk.everywhere(schema) if isinstance(node, dict)}
    state: dict[int, bool] = {}  # id -> still on the current path
    chain: dict[int, int] = {}  # id -> the longest in-place walk from it, once finished
    problems: list[Problem] = []
    for path, node in walk.everywhere(schema):
        if not isinstance(node, dict) or id(node) in state:
            continue
        state[id(node)] = True
        stack = [(node, iter(_in_place_next(node, targets)))]
        while stack:
            current, nexts = stack[-1]
            child = next(nexts, None)
            if child is None:
                state[id(current)] = False
                stack.pop()
                longest = 1 + max(
                    (chain.get(id(c), 0) for c in _in_place_next(current, targets)), default=0
                )
                chain[id(current)] = longest
                if longest == MAX_IN_PLACE + 1:
                    problems.append((paths.get(id(current), path), _CHAIN))
            elif isinstance(child, dict) and state.get(id(child)):
                problems.append((paths.get(id(child), path), _CYCLE))
            elif isinstance(child, dict) and id(child) not in state:
                state[id(child)] = True
                stack.append((child, iter(_in_place_next(child, targets))))
    return problems


# jsonschema recurses a few frames per schema applied in place; a chain of `$ref`/`allOf`
# longer than this would exhaust the stack on any value.
MAX_IN_PLACE = 32
_CHAIN = (
    f"more than {MAX_IN_PLACE} schemas applied in a row through $ref, allOf, anyOf…: "
    "flatten the chain"
)
_CYCLE = (
    "a cycle of references that never steps into the value: validating would recurse "
    "forever (a recursive schema must go through properties, items or the like)"
)


def _in_place_next(node: Any, targets: dict[int, list[Any]]) -> list[Any]:
    return [*walk.in_place(node), *targets.get(id(node), [])]
