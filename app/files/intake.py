"""A call's file inputs, from base64 strings in the JSON body or from multipart parts.

`prepare_input` returns the input as it is validated, cached and recorded (each file field
holding a `{"$file": {...}}` reference with the file's SHA-256, never its bytes) and the
`Attachments` the model messages are built from.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.compiler.file_fields import REF_KEY, FileField
from app.core.errors import Issue
from app.core.setting_groups import FileLimits
from app.files.errors import FileRejected
from app.files.prepare import PreparedFile, prepare_file

_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(?:;[\w=.-]+)*;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class Upload:
    """The bytes of one file field, as they arrived."""

    field: str
    data: bytes
    media_type: str | None = None
    filename: str | None = None


@dataclass(frozen=True)
class Attachments:
    """What a call's messages carry besides the input JSON: document texts and images."""

    files: tuple[PreparedFile, ...] = ()
    image_urls: tuple[tuple[str, str], ...] = field(default=())  # (field, caller's URL)

    @property
    def needs_vision(self) -> bool:
        return bool(self.image_urls) or any(f.image for f in self.files)

    def prompt_input(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The input as the model sees it: document fields hold their extracted text."""
        texts = {f.field: f.text for f in self.files if f.text is not None}
        if not texts:
            return payload
        return {k: texts.get(k, v) for k, v in payload.items()}


def is_reference(value: Any) -> bool:
    """Whether a value is a stored file reference `{"$file": {...}}`."""
    return isinstance(value, dict) and isinstance(value.get(REF_KEY), dict)


def prepare_input(
    fields: Mapping[str, FileField],
    payload: Any,
    uploads: Iterable[Upload],
    limits: FileLimits,
) -> tuple[Any, Attachments | None]:
    """The input with references in place of file bytes, and its attachments.

    Raises `FileRejected` (422) or `FileTooLarge` (413) for a bad file; inputs of agents
    without file fields pass through untouched.
    """
    uploads = list(uploads)
    if not fields or not isinstance(payload, dict):
        _refuse_parts(uploads)
        return payload, None
    _check_parts(fields, payload, uploads)
    # Names first (above): a stray part is named before any file is parsed.
    prepared = [_prepare(fields[upload.field], upload, limits) for upload in uploads]
    from_json, urls = _json_files(fields, payload, limits)
    prepared += from_json
    out = dict(payload)
    for file in prepared:
        out[file.field] = file.reference()
    if not prepared and not urls:
        return out, None
    return out, Attachments(tuple(prepared), tuple(urls))


def _refuse_parts(uploads: list[Upload]) -> None:
    """Raise `FileRejected` when an agent without file fields is sent file parts."""
    if uploads:
        names = ", ".join(sorted(u.field for u in uploads))
        raise FileRejected(
            f"this agent takes no file parts (got {names})",
            issues=[Issue("/" + u.field, "not a file field") for u in uploads],
        )


def _check_parts(
    fields: Mapping[str, FileField], payload: dict[str, Any], uploads: list[Upload]
) -> None:
    """Raise `FileRejected` for a part that is no file field, or also in the input JSON."""
    for upload in uploads:
        spec = fields.get(upload.field)
        if spec is None or spec.kind != "file":
            raise FileRejected(
                f"{upload.field!r} is not a file field of this agent",
                issues=[Issue("/" + upload.field, "not a file field")],
            )
        if upload.field in payload:
            raise FileRejected(
                f"{upload.field} was sent twice: as a file part and in the input JSON",
                issues=[Issue("/" + upload.field, "given twice")],
            )


def _json_files(
    fields: Mapping[str, FileField], payload: dict[str, Any], limits: FileLimits
) -> tuple[list[PreparedFile], list[tuple[str, str]]]:
    """The files sent inside the input JSON, and its image URLs as (field, URL)."""
    prepared: list[PreparedFile] = []
    urls: list[tuple[str, str]] = []
    for name, spec in fields.items():
        if name not in payload:
            continue
        value = payload[name]
        if spec.kind == "image_url":
            if isinstance(value, str):
                urls.append((name, value))
            continue
        prepared.append(_prepare(spec, _from_json(name, value), limits))
    return prepared, urls


def _prepare(spec: FileField, upload: Upload, limits: FileLimits) -> PreparedFile:
    return prepare_file(
        spec, upload.data, limits, declared=upload.media_type, filename=upload.filename
    )


def _from_json(name: str, value: Any) -> Upload:
    """A file field of a JSON body: base64, optionally as a `data:` URL."""
    pointer = "/" + name
    if is_reference(value):
        raise FileRejected(
            f"{name}: send the file's bytes (base64 or a multipart part), not a reference",
            issues=[Issue(pointer, "a file reference is not accepted here")],
        )
    if not isinstance(value, str):
        raise FileRejected(
            f"{name}: expected the file as a base64 string",
            issues=[Issue(pointer, f"expected a base64 string, got {type(value).__name__}")],
        )
    declared = None
    match = _DATA_URL.match(value)
    if match:
        declared, value = match.group(1), value[match.end() :]
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise FileRejected(
            f"{name}: the value is not valid base64",
            issues=[Issue(pointer, "not valid base64")],
        ) from None
    return Upload(name, data, declared)
