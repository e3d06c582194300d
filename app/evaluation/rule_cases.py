"""Cases written by a model, one per rule: the case writer is itself an agent.

The writer is a fixed document (instructions from `templates/prompts/case_writer.j2`) whose
output schema is built from the spec's: a case's `input` *is* the spec's input schema, and
each assertion's `path` names a field of the spec's output. It runs through the normal call
pipeline (routing, fallbacks, repair, re-asks), on the spec's own model choice, so the
configured model writes the cases and the offline model writes deterministic ones.

The first branch of an assertion (`exists: true` on a field every valid output has) is what
the offline model, which takes the first branch that validates, always writes: its cases
hold on any schema-valid output. A real model is free to use every other check.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.compiler.document import Assertion, SpecDocument, content_hash, parse_document
from app.compiler.file_fields import without_file_fields
from app.compiler.prompt import environment
from app.core.errors import pointer
from app.evaluation.schema_cases import DraftCase
from app.jsonschema import ecma, engine
from app.jsonschema.refs import lookup, ref_of
from app.serving.call import call
from app.serving.context import CallContext
from app.serving.live import agent_version

WRITER_NAME = "specloom-case-writer"
MAX_ASSERTIONS = 8
WRITER_CONCURRENCY = 4  # rules written at once


class CaseWriterFailed(Exception):
    """The model gave no valid case for a rule."""


def writer_document(spec: SpecDocument) -> dict[str, Any]:
    """The case writer's document for one spec."""
    fields = output_pointers(spec.output_schema)
    always = [p for p, required in fields if required] or [""]
    writable = without_file_fields(spec.input_schema)  # a case writer cannot make up files
    defs: dict[str, Any] = {k: writable[k] for k in ("$defs", "definitions") if k in writable}
    input_schema = {k: v for k, v in writable.items() if k not in defs}
    assertion = {
        "anyOf": [
            {
                "type": "object",
                "properties": {"path": {"enum": always}, "exists": {"const": True}},
                "required": ["path", "exists"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {
                    "path": {"enum": [p for p, _ in fields] or [""]},
                    "equals": {},
                    "one_of": {"type": "array", "maxItems": 20},
                    "matches": {"type": "string", "maxLength": 500},
                    "contains": {},
                    "min": {"type": "number"},
                    "max": {"type": "number"},
                    "length": {"type": "integer", "minimum": 0},
                    "exists": {"type": "boolean"},
                },
                "required": ["path"],
                "minProperties": 2,
                "additionalProperties": False,
            },
        ]
    }
    output_schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 80},
            "input": input_schema,
            "expect": {
                "type": "array",
                "items": assertion,
                "minItems": 1,
                "maxItems": MAX_ASSERTIONS,
            },
        },
        "required": ["name", "input", "expect"],
        "additionalProperties": False,
        **defs,
    }
    model = spec.model.model_dump(mode="json", exclude_none=True) if spec.model else {}
    model.pop("cache", None)
    return {
        "name": WRITER_NAME,
        "title": "Test case writer",
        "description": environment().get_template("case_writer.j2").render(),
        "input_schema": {
            "type": "object",
            "properties": {
                "spec": {"type": "object"},
                "rule": {"type": "string"},
                "rule_number": {"type": "integer", "minimum": 1},
            },
            "required": ["spec", "rule", "rule_number"],
        },
        "rules": [
            "The case must exercise the given rule, not another one.",
            "The input must be valid under the spec's input schema.",
        ],
        "output_schema": output_schema,
        # Each call is a fresh case: never served from the response cache.
        "model": model | {"cache": False},
    }


async def rule_cases(spec: SpecDocument, *, calls: CallContext) -> list[DraftCase]:
    """One model-written case per rule of `spec`; raises `CaseWriterFailed` when the model
    gives no valid case for a rule."""
    if not spec.rules:
        return []
    writer = parse_document(writer_document(spec))
    agent = agent_version(WRITER_NAME, 1, writer.canonical(), content_hash(writer))
    context = {
        "title": spec.title,
        "description": spec.description,
        "rules": spec.rules,
        "input_schema": spec.input_schema,
        "output_schema": spec.output_schema,
        "examples": [e.model_dump(mode="json") for e in spec.examples],
    }
    semaphore = asyncio.Semaphore(WRITER_CONCURRENCY)

    async def write(number: int, rule: str) -> DraftCase:
        payload = {"spec": context, "rule": rule, "rule_number": number}
        async with semaphore:
            result = await call(
                calls, agent, payload, source="case-writer", request_id="case-writer"
            )
        if result.output is None:
            detail = result.problem.detail if result.problem is not None else "no output"
            raise CaseWriterFailed(f"rule {number}: {detail}")
        expect = checked_assertions(spec.output_schema, result.output["expect"])
        name = f"rule {number}: {result.output['name']}".strip()[:200]
        return DraftCase(
            name, result.output["input"], expect, [rule], placeholder=result.record.offline
        )

    # gather keeps the rules' order; the first failure is raised once all calls have ended.
    results = await asyncio.gather(
        *(write(n, rule) for n, rule in enumerate(spec.rules, start=1)), return_exceptions=True
    )
    for outcome in results:
        if isinstance(outcome, BaseException):
            raise outcome
    return [r for r in results if isinstance(r, DraftCase)]


def checked_assertions(output_schema: dict[str, Any], written: list[Any]) -> list[dict[str, Any]]:
    """The model's assertions that can hold on a schema-valid output: known checks only,
    `equals`/`one_of` values the field's schema allows, regexes that compile."""
    fields = {p: schema for p, schema in _subschemas(output_schema)}
    kept: list[dict[str, Any]] = []
    for raw in written:
        try:
            assertion = Assertion.model_validate(raw)
        except ValueError:
            continue
        sub = fields.get(assertion.path)
        if sub is None:
            continue
        validator = engine.validator(output_schema).evolve(schema=sub)
        values = [assertion.equals] if "equals" in assertion.model_fields_set else []
        values += assertion.one_of or []
        if any(not validator.is_valid(v) for v in values):
            continue
        if assertion.matches is not None and not _compiles(assertion.matches):
            continue
        kept.append(assertion.model_dump(mode="json", exclude_unset=True))
    return kept


def output_pointers(schema: dict[str, Any]) -> list[tuple[str, bool]]:
    """Every field of the output (object properties, nested) and whether every valid output
    has it."""
    return [(p, required) for p, _, required in _walk(schema, schema, (), True, 0)]


def _subschemas(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("", schema), *((p, sub) for p, sub, _ in _walk(schema, schema, (), True, 0))]


def _walk(
    root: dict[str, Any], node: Any, at: tuple[str, ...], present: bool, depth: int
) -> list[tuple[str, dict[str, Any], bool]]:
    node = _deref(root, node)
    if not isinstance(node, dict) or depth > 8:
        return []
    found = []
    required = set(node.get("required") or [])
    for name, sub in (node.get("properties") or {}).items():
        here = (*at, name)
        always = present and name in required
        resolved = _deref(root, sub)
        if isinstance(resolved, dict):
            found.append((pointer(*here), resolved, always))
            found += _walk(root, resolved, here, always, depth + 1)
    return found


def _deref(root: dict[str, Any], node: Any) -> Any:
    """`node` with a `#/...` ref followed one hop; None when that ref dangles.

    A bare `#` is left as it is: following it would list the root's fields again under
    every recursive field. A dangling ref gives None, so that field is not offered as a
    path an assertion can name.
    """
    ref = ref_of(node)
    if ref is not None and ref.startswith("#/"):
        return lookup(root, ref)
    return node


def _defs(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: schema[k] for k in ("$defs", "definitions") if k in schema}


def _compiles(pattern: str) -> bool:
    return ecma.compile_pattern(pattern) is not None
