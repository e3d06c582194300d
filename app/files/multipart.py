"""A `multipart/form-data` agent call: an `input` part (JSON) and one part per file field.

```sh
curl -F 'input={"buyer_hint": "Acme"};type=application/json' -F document_pdf=@po.pdf ...
```

Parsed by Starlette with python-multipart; the body is already bounded by the body-limit
middleware (`SPECLOOM_MAX_UPLOAD_BYTES`). The `input` part goes through the same JSON
hardening as a JSON body.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from app.core.errors import BadRequest, InvalidInput, Issue
from app.core.limits import JsonRejected, checked_json
from app.files.errors import FileRejected
from app.files.intake import Upload

INPUT_PART = "input"


def is_multipart(request: Request) -> bool:
    """Whether the call's body is multipart/form-data."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind == "multipart/form-data"


async def read_multipart(
    request: Request, *, max_parts: int, max_depth: int, max_string_chars: int, max_bytes: int
) -> tuple[dict[str, Any], list[Upload]]:
    """The input object (from the `input` part) and the uploaded files, by field."""
    form = await request.form(max_files=max_parts, max_fields=max_parts, max_part_size=max_bytes)
    try:
        payload: dict[str, Any] = {}
        uploads: list[Upload] = []
        for name, value in form.multi_items():
            if name == INPUT_PART:
                raw = await value.read() if isinstance(value, UploadFile) else value.encode()
                payload = _input_object(raw, max_depth, max_string_chars)
            elif isinstance(value, UploadFile):
                if any(u.field == name for u in uploads):
                    raise FileRejected(
                        f"{name}: one file per field", issues=[Issue("/" + name, "given twice")]
                    )
                data = await value.read()
                uploads.append(Upload(name, data, value.content_type, value.filename))
            else:
                raise FileRejected(
                    f"part {name!r} is neither `input` nor a file: put other fields in the "
                    "`input` part as JSON",
                    issues=[Issue("/" + name, "not a file part")],
                )
        return payload, uploads
    finally:
        await form.close()


def _input_object(raw: bytes, max_depth: int, max_string_chars: int) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = checked_json(raw, max_depth=max_depth, max_string_chars=max_string_chars)
    except JsonRejected as rejected:
        if rejected.status == 400:
            raise BadRequest(f"the `input` part: {rejected.detail}") from None
        raise InvalidInput(f"the `input` part: {rejected.detail}") from None
    if not isinstance(value, dict):
        raise InvalidInput(
            "the `input` part must be a JSON object",
            issues=[Issue("", f"expected an object, got {type(value).__name__}")],
        )
    return value
