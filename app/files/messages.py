"""Chat messages with a call's attachments: document fields explained, images as content parts.

Images use litellm's (OpenAI's) vision format: the user message content becomes a list of
parts, `{"type": "text", ...}` then one `{"type": "image_url", "image_url": {"url": ...}}` per
image (a `data:` URL for uploads, the caller's URL for image URL fields).
"""

from __future__ import annotations

from typing import Any

from app.compiler.prompt import environment
from app.files.intake import Attachments


def attach(messages: list[dict[str, Any]], attachments: Attachments | None) -> list[dict[str, Any]]:
    """`messages` with the attachments added to the first user message (the input's)."""
    if attachments is None:
        return messages
    documents = [f.field for f in attachments.files if f.text is not None]
    images: list[tuple[str, str]] = [
        (f.field, f.data_url()) for f in attachments.files if f.image
    ] + list(attachments.image_urls)
    note = (
        environment()
        .get_template("files.j2")
        .render(documents=documents, images=[name for name, _ in images])
    )
    out = list(messages)
    for index, message in enumerate(out):
        if message.get("role") != "user":
            continue
        text = str(message.get("content", "")) + note
        if not images:
            out[index] = {**message, "content": text}
        else:
            parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
            parts += [{"type": "image_url", "image_url": {"url": url}} for _, url in images]
            out[index] = {**message, "content": parts}
        break
    return out
