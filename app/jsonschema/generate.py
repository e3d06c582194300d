"""Deterministic, schema-valid values for the offline model.

`generator_for(schema)` compiles (and caches, per schema text) a `SchemaGenerator`; its
`generate(seed, equals=...)` walks the schema choosing every free value with a PRNG seeded
from `seed` (a SHA-256 digest), so equal seeds give equal values in every process.

Supported: type (incl. lists; non-null preferred), enum, const, properties/required,
additionalProperties, patternProperties (keys from the pattern), min/maxProperties,
items/prefixItems, min/maxItems, uniqueItems, contains, min/maxLength, pattern and format
(see `offline_strings`), minimum/maximum/exclusive* (draft 4 booleans too), multipleOf,
anyOf/oneOf (first branch whose value validates), allOf (merged), if/then/else, nullable,
local `$ref` ($defs/definitions). Each value is validated against the whole schema; a few
re-seeded attempts follow an invalid one. Unsatisfiable schemas, `not`, and patterns beyond
the tiny regex generator are best effort: the last attempt is returned and the output
pipeline's validation reports it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping
from functools import lru_cache
from random import Random
from typing import Any

from jsonschema.protocols import Validator

from app.core.errors import pointer
from app.jsonschema import ecma, engine, keywords, strings
from app.jsonschema.refs import lookup

Json = Any
_ATTEMPTS = 4
_OPTIONAL_DEPTH = 4  # below this depth only required properties: recursive schemas end
_MAX_DEPTH = 24
# The most items or properties generated in one array or object (minItems: 5e7 must not hang).
MAX_ITEMS = 1_000
_MISSING = object()
_NULL = {"type": "null"}
_ANNOTATIONS = frozenset({"enum", "title", "description", "default", "examples", "$comment"})


class SchemaGenerator:
    """Generates values valid against one schema; build with `generator_for`."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = dict(schema)
        self._validator: Validator = engine.validator(self.schema)

    def is_valid(self, value: Json, schema: Json = None) -> bool:
        """Whether `value` satisfies the whole schema (or `schema`, a part of it)."""
        if schema is None:
            return self._validator.is_valid(value)
        return self._validator.evolve(schema=schema).is_valid(value)

    def generate(self, seed: bytes, equals: Mapping[str, Json] | None = None) -> Json:
        """A value valid against the schema, with `equals` (JSON Pointer → value) imposed.

        Imposed values that would make the value invalid are dropped, one by one.
        """
        wanted = dict(equals or {})
        value = self._attempts(seed, wanted)
        if not wanted or self.is_valid(value):
            return value
        kept: dict[str, Json] = {}
        for path, forced in wanted.items():
            trial = self._attempts(seed, {**kept, path: forced})
            if self.is_valid(trial):
                kept[path] = forced
        return self._attempts(seed, kept)

    def _attempts(self, seed: bytes, equals: dict[str, Json]) -> Json:
        value: Json = None
        for attempt in range(_ATTEMPTS):
            salt = seed if attempt == 0 else hashlib.sha256(seed + bytes([attempt])).digest()
            walk = _Walk(self, Random(int.from_bytes(salt, "big")), equals)
            value = walk.value(self.schema, "", "value", 0, minimal=attempt == _ATTEMPTS - 1)
            if self.is_valid(value):
                return value
        return value


@lru_cache(maxsize=512)
def _cached(schema_json: str) -> SchemaGenerator:
    return SchemaGenerator(json.loads(schema_json))


def generator_for(schema: Mapping[str, Any]) -> SchemaGenerator:
    """The generator for `schema`, compiled once per distinct schema text.

    Keys keep their order (not sorted): property order is how outputs read naturally.
    """
    return _cached(json.dumps(schema, separators=(",", ":")))


class _Walk:
    """One generation pass: a seeded PRNG and the values imposed at JSON Pointers."""

    def __init__(self, gen: SchemaGenerator, rng: Random, equals: dict[str, Json]) -> None:
        self.gen = gen
        self.rng = rng
        self.equals = equals
        # Every ancestor of an imposed pointer must exist, even if optional.
        self.needed: set[str] = set()
        for path in equals:
            parts = path.split("/")
            self.needed.update("/".join(parts[: i + 1]) for i in range(len(parts)))

    def value(self, schema: Json, path: str, name: str, depth: int, minimal: bool) -> Json:
        """A value for `schema` at `path` (the field `name`), `depth` levels down."""
        if path in self.equals:
            return copy.deepcopy(self.equals[path])
        if schema is True or schema is None:
            schema = {}
        if schema is False or depth > _MAX_DEPTH:
            return None
        schema = self._flatten(schema)
        if "const" in schema or "enum" in schema:
            return self._listed(schema)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self._first_branch(schema, key, path, name, depth, minimal)
        if "if" in schema:
            return self._conditional(schema, path, name, depth, minimal)
        return self._typed(schema, path, name, depth, minimal)

    def _listed(self, schema: dict[str, Any]) -> Json:
        """The `const`, or one of the `enum` values (one the rest of the schema allows)."""
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        choices = schema["enum"]
        if not _ANNOTATIONS.issuperset(schema):  # other constraints may rule some out
            choices = [v for v in choices if self.gen.is_valid(v, schema)] or choices
        return copy.deepcopy(self.rng.choice(choices))

    def _conditional(
        self, schema: dict[str, Any], path: str, name: str, depth: int, minimal: bool
    ) -> Json:
        """if/then/else: a probe value decides the branch, then is generated under it."""
        rest = {k: v for k, v in schema.items() if k not in ("if", "then", "else")}
        state = self.rng.getstate()
        probe = self.value(rest, path, name, depth, minimal)
        branch = "then" if self.gen.is_valid(probe, schema["if"]) else "else"
        if branch not in schema:
            return probe
        # Replay the same choices so the value still takes the branch it was probed for.
        self.rng.setstate(state)
        return self.value(
            keywords.merge(rest, self._flatten(schema[branch])), path, name, depth, minimal
        )

    def _typed(
        self, schema: dict[str, Any], path: str, name: str, depth: int, minimal: bool
    ) -> Json:
        """A value of the schema's type (see `keywords.pick_type`)."""
        kind = keywords.pick_type(schema)
        if kind == "object":
            return self._object(schema, path, depth, minimal)
        if kind == "array":
            return self._array(schema, path, name, depth, minimal)
        if kind == "string":
            return strings.for_schema(schema, name, self.rng)
        if kind in ("integer", "number"):
            return keywords.number(schema, self.rng, integer=kind == "integer")
        if kind == "boolean":
            return self.rng.random() < 0.5
        return None

    def _flatten(self, schema: Json) -> dict[str, Any]:
        """Resolve `$ref` and merge `allOf`, so the rest sees one plain schema."""
        flat: dict[str, Any] = dict(schema) if isinstance(schema, Mapping) else {}
        # Two anyOf/oneOf cannot share one key: the second waits in an allOf until the first
        # has picked its branch.
        deferred: list[dict[str, Any]] = []
        for _ in range(_MAX_DEPTH):
            if "$ref" in flat:
                target = self._resolve(flat.pop("$ref"))
                flat = keywords.merge(dict(target), flat)
            elif "allOf" in flat:
                for part in flat.pop("allOf"):
                    sub = self._flatten(part)
                    clash = [k for k in ("anyOf", "oneOf") if k in sub and k in flat]
                    if clash:
                        deferred.append({k: sub.pop(k) for k in clash})
                    flat = keywords.merge(flat, sub)
            else:
                break
        if deferred:
            flat["allOf"] = deferred
        return flat

    def _resolve(self, ref: str) -> Mapping[str, Any]:
        """The schema a local `$ref` names; {} (no constraint) for a remote one, which is out
        of reach offline, and for a dangling one or a boolean schema."""
        target = lookup(self.gen.schema, ref)
        return target if isinstance(target, Mapping) else {}

    def _first_branch(
        self, schema: dict[str, Any], key: str, path: str, name: str, depth: int, minimal: bool
    ) -> Json:
        rest = {k: v for k, v in schema.items() if k != key}
        value: Json = None
        # Non-null branches first: `anyOf: [{type: null}, X]` should still produce an X.
        branches = sorted(schema[key], key=lambda b: isinstance(b, Mapping) and b == _NULL)
        for branch in branches:
            merged = keywords.merge(rest, self._flatten(branch))
            value = self.value(merged, path, name, depth + 1, minimal)
            if self.gen.is_valid(value, schema):
                return value
        return value

    def _object(self, schema: dict[str, Any], path: str, depth: int, minimal: bool) -> Json:
        props: Mapping[str, Any] = schema.get("properties") or {}
        required = [k for k in schema.get("required", []) if isinstance(k, str)]
        limit = schema.get("maxProperties", math.inf)
        keys = list(required)
        shallow = not minimal and depth < _OPTIONAL_DEPTH
        for key in props:
            if (
                key not in keys
                and len(keys) < limit
                and (shallow or pointer_join(path, key) in self.needed)
            ):
                keys.append(key)
        for key, deps in (schema.get("dependentRequired") or {}).items():
            if key in keys:
                keys.extend(d for d in deps if d not in keys)
        extra = schema.get("additionalProperties", True)
        patterns: Mapping[str, Any] = schema.get("patternProperties") or {}
        for i in range(max(0, min(int(schema.get("minProperties", 0)), MAX_ITEMS) - len(keys))):
            keys.append(self._extra_key(patterns, i, keys))
        order = {k: i for i, k in enumerate(props)}  # declaration order reads naturally
        keys.sort(key=lambda k: order.get(k, len(order)))
        result: dict[str, Json] = {}
        for key in keys:
            sub = props.get(key, _MISSING)
            if sub is _MISSING:
                sub = next((s for p, s in patterns.items() if _search(p, key)), None)
                sub = sub if sub is not None else (extra if isinstance(extra, Mapping) else {})
            result[key] = self.value(sub, pointer_join(path, key), key, depth + 1, minimal)
        return result

    def _extra_key(self, patterns: Mapping[str, Any], i: int, taken: list[str]) -> str:
        # Keys beyond `properties` (minProperties): shaped by patternProperties when present.
        for pattern in patterns:
            for _ in range(5):
                key = strings.from_pattern(pattern, self.rng, 1)
                if key and key not in taken:
                    return key
        return f"extra_{i + 1}"

    def _array(
        self, schema: dict[str, Any], path: str, name: str, depth: int, minimal: bool
    ) -> Json:
        items = schema.get("items")
        prefix = list(schema.get("prefixItems") or [])
        if isinstance(items, list):  # draft 7 tuple form
            prefix, items = items, schema.get("additionalItems")
        low = min(int(schema.get("minItems", 0)), MAX_ITEMS)
        high = schema.get("maxItems")
        count = max(
            low,
            len(prefix)
            if prefix
            else (0 if minimal or depth >= _OPTIONAL_DEPTH else self.rng.randint(1, 2)),
        )
        count = max(count, self._forced_length(path))
        contains = schema.get("contains")
        if contains is not None:
            count = max(count, min(int(schema.get("minContains", 1)), MAX_ITEMS))
        if items is False:
            count = min(count, len(prefix))
        if high is not None:
            count = min(count, int(high))
        count = min(count, MAX_ITEMS)
        result: list[Json] = []
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else items
            if contains is not None and i < schema.get("minContains", 1) and i >= len(prefix):
                sub = keywords.merge(self._flatten(sub or {}), self._flatten(contains))
            item_name = name if count == 1 else f"{name} {i + 1}"
            value = self.value(sub, f"{path}/{i}", item_name, depth + 1, minimal)
            for _ in range(4):
                if not schema.get("uniqueItems") or value not in result:
                    break
                value = self.value(sub, f"{path}/{i}", item_name, depth + 1, minimal)
            result.append(value)
        return result

    def _forced_length(self, path: str) -> int:
        """One more than the highest array index an imposed pointer reaches under `path`."""
        length = 0
        for needed in self.needed:
            if needed.startswith(path + "/"):
                head = needed[len(path) + 1 :].split("/")[0]
                if head.isdigit():
                    length = max(length, int(head) + 1)
        return length


def pointer_join(path: str, key: str) -> str:
    """`path` extended by one object key, escaped as JSON Pointer requires."""
    return path + pointer(key)


def _search(pattern: str, text: str) -> bool:
    return ecma.search(pattern, text)
