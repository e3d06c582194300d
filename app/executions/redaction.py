"""Sensitive fields: `x-sensitive: true` on a schema property keeps its value out of storage.

The caller still gets the full output; what is stored (execution input and output, error
details, attempt texts) has each sensitive value replaced by "[redacted]". A model's raw text
cannot be redacted field by field reliably (it may be broken JSON, prose, a fenced block), so
for a spec whose *output* schema marks a field sensitive the raw text is not stored at all;
otherwise sensitive *input* strings are scrubbed from it wherever they appear verbatim.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from app.executions.record import ExecutionRecord
from app.jsonschema.refs import lookup, ref_of

REDACTED = "[redacted]"
_MIN_SCRUB_CHARS = 3  # shorter values would blank out unrelated text


def has_sensitive(schema: Any) -> bool:
    """Whether any subschema of `schema` says `x-sensitive: true`."""
    if isinstance(schema, dict):
        if schema.get("x-sensitive") is True:
            return True
        return any(has_sensitive(v) for v in schema.values())
    if isinstance(schema, list):
        return any(has_sensitive(v) for v in schema)
    return False


def redact(value: Any, schema: dict[str, Any], found: list[Any] | None = None) -> Any:
    """A copy of `value` with every value of a sensitive field replaced by "[redacted]".

    The replaced values are appended to `found` (to scrub them from free text elsewhere).
    """
    return _redact(value, [schema], schema, found if found is not None else [])


def _resolve(
    schema: Any, root: dict[str, Any], seen: frozenset[int] = frozenset()
) -> Iterator[dict[str, Any]]:
    """The schema and every schema it defers to (local `$ref`s, the root `#` included, and
    allOf/anyOf/oneOf), each once along a chain so that cycles of refs end."""
    if not isinstance(schema, dict) or id(schema) in seen:
        return
    seen = seen | {id(schema)}
    yield schema
    ref = ref_of(schema)
    if ref is not None:
        yield from _resolve(lookup(root, ref), root, seen)
    for keyword in ("allOf", "anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list):
            for branch in branches:
                yield from _resolve(branch, root, seen)


def _redact(value: Any, schemas: list[Any], root: dict[str, Any], found: list[Any]) -> Any:
    resolved = [s for schema in schemas for s in _resolve(schema, root)]
    if any(s.get("x-sensitive") is True for s in resolved):
        found.append(value)
        return REDACTED
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            children: list[Any] = []
            for s in resolved:
                props = s.get("properties")
                if isinstance(props, dict) and key in props:
                    children.append(props[key])
                elif isinstance(s.get("additionalProperties"), dict):
                    children.append(s["additionalProperties"])
            out[key] = _redact(item, children, root, found) if children else item
        return out
    if isinstance(value, list):
        items: list[Any] = []
        for index, item in enumerate(value):
            children = []
            for s in resolved:
                prefix = s.get("prefixItems")
                if isinstance(prefix, list) and index < len(prefix):
                    children.append(prefix[index])
                elif isinstance(s.get("items"), dict):
                    children.append(s["items"])
            items.append(_redact(item, children, root, found) if children else item)
        return items
    return value


def scrub(text: str, values: list[Any]) -> str:
    """`text` with every sensitive string value (of a useful length) blanked out."""
    for value in values:
        if isinstance(value, str) and len(value) >= _MIN_SCRUB_CHARS:
            text = text.replace(value, REDACTED)
            # Values also appear JSON-escaped inside serialized documents and messages.
            text = text.replace(json.dumps(value)[1:-1], REDACTED)
    return text


def redact_record(
    record: ExecutionRecord,
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    *,
    sensitive_input: bool,
    sensitive_output: bool,
) -> None:
    """Redact an execution record in place, before it is stored (it is not sent anywhere).

    The two flags are `has_sensitive` of the two schemas, worked out once per agent version.
    """
    if not (sensitive_output or sensitive_input):
        return
    found: list[Any] = []
    record.input = redact(record.input, input_schema, found)
    if record.output is not None:
        record.output = redact(record.output, output_schema, found)
    if record.error is not None:
        record.error = json.loads(scrub(json.dumps(record.error), found))
    for attempt in record.attempts:
        if sensitive_output:
            attempt.raw_text = None
        elif attempt.raw_text is not None:
            attempt.raw_text = scrub(attempt.raw_text, found)
        if attempt.error is not None:
            attempt.error = scrub(attempt.error, found)
        if attempt.issues is not None:
            attempt.issues = json.loads(scrub(json.dumps(attempt.issues), found))
