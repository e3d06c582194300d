"""A JSON Schema object as a table of fields, and back, losslessly.

Each property becomes a row (name, type, required, description, enum values, item type,
constraints, sensitive); whatever a row cannot show (nested properties, $ref, anyOf…) rides
along in the row's `extra` JSON, and root keywords other than type/properties/required in the
section's `root_extra`, so a schema written in the raw tab survives a trip through the table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

TYPES = ("string", "integer", "number", "boolean", "enum", "array", "object", "custom")
ITEM_TYPES = ("", "string", "integer", "number", "boolean", "object")
CONSTRAINTS = (
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "default",
)
_ROW_KEY = re.compile(r"^(?P<section>input|output)-(?P<index>\d+)-(?P<part>[a-z_]+)$")


@dataclass
class FieldRow:
    """One property of a schema as the editor shows it."""

    name: str = ""
    type: str = "string"
    required: bool = False
    description: str = ""
    enum: str = ""
    items: str = ""
    constraints: str = ""
    sensitive: bool = False
    extra: str = ""


@dataclass
class RowIssue:
    """A problem found while turning a row back into a schema."""

    index: int
    message: str


@dataclass
class Section:
    """An input or output schema in the editor: rows, the raw JSON, which one is edited."""

    mode: str = "fields"  # "fields" or "json"
    rows: list[FieldRow] = field(default_factory=list)
    raw: str = ""
    root_extra: str = ""


def _format_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def rows_from_schema(schema: dict[str, Any]) -> tuple[list[FieldRow], str]:
    """The rows of a schema's properties, and its other root keywords as JSON."""
    properties = schema.get("properties") or {}
    listed = [n for n in schema.get("required") or [] if isinstance(n, str)]
    required = set(listed)
    if isinstance(properties, dict):
        # Stored schemas (JSONB) do not keep key order: show required fields first, in the
        # order `required` lists them, so a save without changes writes the same `required`.
        properties = {
            **{n: properties[n] for n in listed if n in properties},
            **{n: p for n, p in properties.items() if n not in required},
        }
    root = {k: v for k, v in schema.items() if k not in ("type", "properties", "required")}
    rows = []
    for name, prop in properties.items() if isinstance(properties, dict) else []:
        rest = dict(prop) if isinstance(prop, dict) else {}
        row = FieldRow(name=name, required=name in required)
        enum = rest.get("enum")
        if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
            row.type = "enum"
            row.enum = ", ".join(rest.pop("enum"))
            if rest.get("type") == "string":
                rest.pop("type")
        elif rest.get("type") in TYPES and "enum" not in rest:
            row.type = rest.pop("type")
        else:
            row.type = "custom"
        if row.type == "array":
            items = rest.get("items")
            if isinstance(items, dict) and set(items) == {"type"} and items["type"] in ITEM_TYPES:
                row.items = rest.pop("items")["type"]
        if isinstance(rest.get("description"), str):
            row.description = rest.pop("description")
        if rest.get("x-sensitive") is True:
            row.sensitive = True
            rest.pop("x-sensitive")
        pairs = [f"{k}={_format_value(rest.pop(k))}" for k in CONSTRAINTS if k in rest]
        row.constraints = "; ".join(pairs)
        row.extra = json.dumps(rest) if rest else ""
        rows.append(row)
    return rows, json.dumps(root) if root else ""


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def schema_from_rows(
    rows: list[FieldRow], root_extra: str
) -> tuple[dict[str, Any], list[RowIssue]]:
    """The schema the rows describe, and the rows' problems (index -1: the root extra)."""
    issues: list[RowIssue] = []
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    seen: set[str] = set()
    for index, row in enumerate(rows):
        name = row.name.strip()
        if not name:
            issues.append(RowIssue(index, "every field needs a name"))
        elif name in seen:
            issues.append(RowIssue(index, f"the field name {name!r} is used twice"))
        else:
            seen.add(name)
            schema["properties"][name] = _property(row, index, issues)
    required = [r.name.strip() for r in rows if r.required and r.name.strip()]
    if required:
        schema["required"] = required
    _add_root_extra(schema, root_extra, issues)
    return schema, issues


def _property(row: FieldRow, index: int, issues: list[RowIssue]) -> dict[str, Any]:
    """The schema of one row's property; its problems are appended to `issues`."""
    prop = _row_extra(row.extra, index, issues)
    if row.type == "enum":
        values = [v.strip() for v in row.enum.split(",") if v.strip()]
        if not values:
            issues.append(RowIssue(index, "an enum field needs at least one value"))
        prop["enum"] = values
    elif row.type in TYPES and row.type != "custom":
        prop["type"] = row.type
    if row.type == "array" and row.items:
        prop["items"] = {"type": row.items}
    if row.description.strip():
        prop["description"] = row.description.strip()
    prop.update(_constraints(row.constraints, index, issues))
    if row.sensitive:
        prop["x-sensitive"] = True
    return prop


def _row_extra(text: str, index: int, issues: list[RowIssue]) -> dict[str, Any]:
    """The keywords of a row's advanced JSON (an object), or none if it is not one."""
    if not text.strip():
        return {}
    try:
        extra = json.loads(text)
    except ValueError as exc:
        issues.append(RowIssue(index, f"advanced JSON is not valid JSON: {exc}"))
        return {}
    if isinstance(extra, dict):
        return extra
    issues.append(RowIssue(index, "advanced JSON must be an object"))
    return {}


def _constraints(text: str, index: int, issues: list[RowIssue]) -> dict[str, Any]:
    """The `key=value; ...` constraints of a row, each key one of `CONSTRAINTS`."""
    found: dict[str, Any] = {}
    for pair in (p.strip() for p in text.split(";")):
        if not pair:
            continue
        key, eq, value = pair.partition("=")
        if not eq or key.strip() not in CONSTRAINTS:
            issues.append(
                RowIssue(
                    index,
                    f"constraint {pair!r}: write key=value with a key among "
                    + ", ".join(CONSTRAINTS),
                )
            )
            continue
        found[key.strip()] = _parse_value(value.strip())
    return found


def _add_root_extra(schema: dict[str, Any], root_extra: str, issues: list[RowIssue]) -> None:
    """Merge the section's other root keywords (JSON) into `schema`, never over its own."""
    if not root_extra.strip():
        return
    try:
        root = json.loads(root_extra)
    except ValueError as exc:
        issues.append(RowIssue(-1, f"schema options are not valid JSON: {exc}"))
        return
    if isinstance(root, dict):
        schema.update({k: v for k, v in root.items() if k not in schema})


def rows_from_form(form: dict[str, str], section: str) -> list[FieldRow]:
    """The rows of `section` posted by the editor (`input-3-name`…), in index order."""
    parts: dict[int, dict[str, str]] = {}
    for key, value in form.items():
        match = _ROW_KEY.match(key)
        if match and match["section"] == section:
            parts.setdefault(int(match["index"]), {})[match["part"]] = value
    rows = []
    for index in sorted(parts):
        values = parts[index]
        rows.append(
            FieldRow(
                name=values.get("name", ""),
                type=values.get("type", "string") if values.get("type") in TYPES else "custom",
                required="required" in values,
                description=values.get("description", ""),
                enum=values.get("enum", ""),
                items=values.get("items", "") if values.get("items") in ITEM_TYPES else "",
                constraints=values.get("constraints", ""),
                sensitive="sensitive" in values,
                extra=values.get("extra", ""),
            )
        )
    return rows
