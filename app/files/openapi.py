"""OpenAPI for file fields: the multipart/form-data request body beside the JSON one."""

from __future__ import annotations

import copy
from typing import Any

from app.compiler.file_fields import file_fields
from app.files.multipart import INPUT_PART


def without_files(input_schema: dict[str, Any]) -> dict[str, Any] | None:
    """The input schema minus its file fields (the multipart `input` part); None if none."""
    names = {n for n, f in file_fields(input_schema).items() if f.kind == "file"}
    if not names:
        return None
    schema = copy.deepcopy(input_schema)
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k not in names}
    for holder in [schema, *(b for k in ("anyOf", "oneOf") for b in schema.get(k, []))]:
        if isinstance(holder, dict) and isinstance(holder.get("required"), list):
            holder["required"] = [r for r in holder["required"] if r not in names]
    return schema


def multipart_media(input_schema: dict[str, Any], fields_ref: str) -> dict[str, Any] | None:
    """The `multipart/form-data` media type object of an agent with file fields."""
    files = {n: f for n, f in file_fields(input_schema).items() if f.kind == "file"}
    if not files:
        return None
    properties: dict[str, Any] = {
        INPUT_PART: {
            "$ref": fields_ref,
            "description": "The other input fields, as one JSON object",
        }
    }
    encoding: dict[str, Any] = {INPUT_PART: {"contentType": "application/json"}}
    for name, spec in files.items():
        declared = input_schema["properties"][name]
        properties[name] = {
            "type": "string",
            "format": "binary",
            "description": declared.get("description") or f"The file ({', '.join(spec.accepts)})",
        }
        encoding[name] = {"contentType": ", ".join(spec.accepts)}
    return {
        "schema": {"type": "object", "properties": properties},
        "encoding": encoding,
    }
