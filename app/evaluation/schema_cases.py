"""Cases derived from a spec's own contract: pure functions, deterministic, no I/O.

From the input schema: a baseline input with every optional field, the same with the
optional fields left out, one input per enum value and per boolean value, and inputs at
the boundaries (string lengths, numbers, array sizes) of each top-level field. They assert
nothing beyond the implicit check every attempt gets: a schema-valid output and no error.

From the examples: the example's input, asserting the example output's fields: `equals` for
closed values (enums, consts, booleans, integers), `exists` for free text and the rest, so
a model that words a summary differently still passes.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any

from jsonschema.protocols import Validator

from app.compiler.document import SpecDocument
from app.core.errors import pointer
from app.core.fastjson import canonical_json
from app.jsonschema import engine
from app.jsonschema.generate import generator_for
from app.jsonschema.refs import deref

MAX_SCHEMA_CASES = 60
_SEED = hashlib.sha256(b"specloom-generated-case").digest()


@dataclass(frozen=True)
class DraftCase:
    """A generated case before it is stored."""

    name: str
    input: dict[str, Any]
    expect: list[dict[str, Any]] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    placeholder: bool = False  # written by the offline model: expectations are not knowledge


def schema_cases(input_schema: dict[str, Any]) -> list[DraftCase]:
    """Valid inputs covering enums, optional fields and bounds of the top-level fields."""
    validator = engine.validator(input_schema)
    base = _baseline(input_schema, validator)
    if base is None:
        return []
    drafts: list[DraftCase] = [DraftCase("schema: every field", base)]
    required = set(input_schema.get("required") or [])
    minimal = {k: v for k, v in base.items() if k in required}
    drafts.append(DraftCase("schema: optional fields left out", minimal))
    for name, sub in (input_schema.get("properties") or {}).items():
        sub = _resolve(sub, input_schema)
        if not isinstance(sub, dict):
            continue
        for label, value in _variants(sub):
            drafts.append(DraftCase(f"schema: {name} {label}", {**base, name: value}))
    # Deduplicated by name only: "lang = fr" stays its own case even when the baseline
    # happens to hold "fr" too, so every enum value visibly has a case.
    unique: dict[str, DraftCase] = {}
    for draft in drafts:
        if draft.name[:200] in unique or not validator.is_valid(draft.input):
            continue
        unique[draft.name[:200]] = DraftCase(draft.name[:200], draft.input)
    return list(unique.values())[:MAX_SCHEMA_CASES]


def example_cases(document: SpecDocument) -> list[DraftCase]:
    """One case per example, asserting the example output's fields."""
    return [
        DraftCase(
            f"example {number}",
            copy.deepcopy(example.input),
            output_assertions(document.output_schema, example.output),
        )
        for number, example in enumerate(document.examples, start=1)
    ]


def output_assertions(
    output_schema: dict[str, Any], output: dict[str, Any]
) -> list[dict[str, Any]]:
    """Assertions that an output has these top-level fields: `equals` for closed values
    (enum, const, boolean, integer), `exists` for free text and everything else."""
    expect: list[dict[str, Any]] = []
    for key, value in output.items():
        sub = _resolve((output_schema.get("properties") or {}).get(key), output_schema)
        closed = isinstance(sub, dict) and (
            "enum" in sub or "const" in sub or sub.get("type") in ("boolean", "integer")
        )
        if closed:
            expect.append({"path": pointer(key), "equals": value})
        else:
            expect.append({"path": pointer(key), "exists": True})
    return expect


def _baseline(schema: dict[str, Any], validator: Validator) -> dict[str, Any] | None:
    """A valid input (deterministic), with every top-level optional field filled in."""
    value = generator_for(schema).generate(_SEED)
    if not isinstance(value, dict) or not validator.is_valid(value):
        return None
    defs: dict[str, Any] = {k: schema[k] for k in ("$defs", "definitions") if k in schema}
    for name, sub in (schema.get("properties") or {}).items():
        if name in value or not isinstance(sub, dict):
            continue
        candidate = generator_for({**sub, **defs}).generate(_SEED)
        if validator.is_valid({**value, name: candidate}):
            value[name] = candidate
    return value


def _variants(sub: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) for every enum value, boolean and boundary of one field's schema."""
    found: list[tuple[str, Any]] = []
    if isinstance(sub.get("enum"), list):
        found += [(f"= {canonical_json(v)}", v) for v in sub["enum"]]
    types = sub.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if "boolean" in types:
        found += [("= true", True), ("= false", False)]
    if "string" in types and "enum" not in sub:
        for keyword in ("minLength", "maxLength"):
            n = sub.get(keyword)
            if isinstance(n, int) and 0 <= n <= 10_000:
                found.append((f"at {keyword} {n}", _text(n)))
    if ("integer" in types or "number" in types) and "enum" not in sub:
        step = 1 if "integer" in types else 0.5
        for keyword, offset in (
            ("minimum", 0),
            ("maximum", 0),
            ("exclusiveMinimum", step),
            ("exclusiveMaximum", -step),
        ):
            bound = sub.get(keyword)
            if isinstance(bound, int | float) and not isinstance(bound, bool):
                found.append((f"at {keyword} {bound}", bound + offset))
    if "array" in types and isinstance(sub.get("items"), dict):
        item = generator_for(sub["items"]).generate(_SEED)
        for keyword in ("minItems", "maxItems"):
            n = sub.get(keyword)
            if isinstance(n, int) and 0 <= n <= 100:
                found.append((f"at {keyword} {n}", [copy.deepcopy(item) for _ in range(n)]))
    return found


def _text(n: int) -> str:
    """A readable string of exactly `n` characters."""
    words = "lorem ipsum dolor sit amet "
    return (words * (n // len(words) + 1))[:n]


def _resolve(sub: Any, root: dict[str, Any]) -> Any:
    """A field's schema with its `$ref` followed one hop (a chain stays a `$ref`, so it gets
    no variants and an `exists` assertion: the cases of existing specs stay the same)."""
    return deref(sub, root, max_hops=1)
