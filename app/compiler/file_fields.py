"""Which input properties are files, and what they accept.

A top-level string property of the input schema is a *file field* when it declares a
`contentMediaType` and `contentEncoding: base64` (the bytes travel in the JSON body as
base64, or as a multipart part). A string property with `format: uri` and an image
`contentMediaType` is an *image URL field*: the URL is handed to vision models as it is
(the server never fetches it). Only top-level properties are file fields.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

TEXT_TYPES = ("text/plain", "text/markdown", "text/csv")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
DOCUMENT_TYPES = ("application/pdf", *TEXT_TYPES)
SUPPORTED = (*DOCUMENT_TYPES, *IMAGE_TYPES)
# The key of a stored reference in place of a file's bytes: {"$file": {...}}.
REF_KEY = "$file"

FieldKind = Literal["file", "image_url"]


@dataclass(frozen=True)
class FileField:
    """One file input: its property name and the media types it takes."""

    name: str
    kind: FieldKind
    accepts: tuple[str, ...]

    def accepts_type(self, media_type: str) -> bool:
        """Whether a file of `media_type` fits this field."""
        return any(_matches(pattern, media_type) for pattern in self.accepts)

    @property
    def images(self) -> bool:
        """Whether the field may carry an image (so it needs a vision model)."""
        return any(self.accepts_type(kind) for kind in IMAGE_TYPES)


def _matches(pattern: str, media_type: str) -> bool:
    if pattern.endswith("/*"):
        return media_type.startswith(pattern[:-1])
    return pattern == media_type


def _accepts(declared: str) -> tuple[str, ...]:
    """The supported media types a `contentMediaType` names (`image/*` names all images)."""
    declared = declared.split(";", 1)[0].strip().lower()
    return tuple(kind for kind in SUPPORTED if _matches(declared, kind))


def file_fields(input_schema: dict[str, Any]) -> dict[str, FileField]:
    """The file fields of an input schema, by property name."""
    properties = input_schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    found: dict[str, FileField] = {}
    for name, prop in properties.items():
        if not isinstance(prop, dict) or not isinstance(prop.get("contentMediaType"), str):
            continue
        accepts = _accepts(prop["contentMediaType"])
        if not accepts:
            continue
        if prop.get("contentEncoding") == "base64":
            found[name] = FileField(name, "file", accepts)
        elif prop.get("format") == "uri" and all(a in IMAGE_TYPES for a in accepts):
            found[name] = FileField(name, "image_url", accepts)
    return found


REF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [REF_KEY],
    "properties": {
        REF_KEY: {
            "type": "object",
            "required": ["sha256", "media_type", "size"],
            "properties": {
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "media_type": {"type": "string"},
                "size": {"type": "integer", "minimum": 0},
                "pages": {"type": ["integer", "null"]},
                "filename": {"type": ["string", "null"]},
            },
        }
    },
}


def reference_schema(input_schema: dict[str, Any]) -> dict[str, Any]:
    """The input schema as a prepared input is checked against: file fields hold references.

    A prepared input carries `{"$file": {sha256, media_type, size, pages}}` where the caller
    sent bytes, so those properties are checked as references; the rest is unchanged.
    """
    fields = {n for n, f in file_fields(input_schema).items() if f.kind == "file"}
    if not fields:
        return input_schema
    schema = copy.deepcopy(input_schema)
    for name in fields:
        schema["properties"][name] = REF_SCHEMA
    return schema


def without_file_fields(input_schema: dict[str, Any]) -> dict[str, Any]:
    """The input schema minus its file fields, for writing inputs as JSON (generated cases).

    A file's bytes cannot be made up, so the fields go, with the `anyOf`/`oneOf` branches
    that require one of them; a schema whose every branch needs a file keeps that keyword
    (inputs written from it will not validate, and say so).
    """
    fields = {n for n, f in file_fields(input_schema).items() if f.kind == "file"}
    if not fields:
        return input_schema
    schema = copy.deepcopy(input_schema)
    for name in fields:
        schema["properties"].pop(name)
    if isinstance(schema.get("required"), list):
        schema["required"] = [n for n in schema["required"] if n not in fields]
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list):
            kept = [b for b in branches if not _needs(b, fields)]
            if kept:
                schema[keyword] = kept
    return schema


def _needs(branch: Any, fields: set[str]) -> bool:
    required = branch.get("required") if isinstance(branch, dict) else None
    return isinstance(required, list) and bool(fields.intersection(required))
