"""Turning a file's bytes into what a model reads: text for documents, image content for images.

Pure and synchronous (pypdf is CPU-bound): the runtime calls `prepare_file` in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from dataclasses import dataclass
from typing import Any

from app.compiler.file_fields import IMAGE_TYPES, REF_KEY, TEXT_TYPES, FileField
from app.core.errors import Issue
from app.core.setting_groups import FileLimits
from app.files.errors import FileRejected, FileTooLarge

# pypdf reports recoverable damage through logging; the call's own problem says enough.
logging.getLogger("pypdf").setLevel(logging.ERROR)

_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True)
class PreparedFile:
    """One file input, ready for a model, and the reference stored in its place."""

    field: str
    sha256: str
    media_type: str
    size: int
    data: bytes
    pages: int | None = None
    text: str | None = None  # documents: the extracted text
    filename: str | None = None

    @property
    def image(self) -> bool:
        return self.media_type in IMAGE_TYPES

    def reference(self) -> dict[str, Any]:
        """What the execution record and test case keep instead of the bytes."""
        meta: dict[str, Any] = {
            "sha256": self.sha256,
            "media_type": self.media_type,
            "size": self.size,
            "pages": self.pages,
        }
        if self.filename:
            meta["filename"] = self.filename
        return {REF_KEY: meta}

    def data_url(self) -> str:
        """The image as a `data:` URL, the form litellm's vision messages take."""
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode()}"


def sniff(data: bytes) -> str | None:
    """The media type the bytes themselves show, or None when unknown."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if b"\x00" not in data[:8192]:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/plain"
    return None


def prepare_file(
    field: FileField,
    data: bytes,
    limits: FileLimits,
    *,
    declared: str | None = None,
    filename: str | None = None,
) -> PreparedFile:
    """Check a file against its field and the limits, and extract what the model reads.

    Raises `FileTooLarge` (413) or `FileRejected` (422) naming the field; never anything else.
    """
    pointer = "/" + field.name
    if len(data) > limits.max_file_bytes:
        raise FileTooLarge(
            f"{field.name}: the file has {len(data)} bytes; the limit is {limits.max_file_bytes}",
            issues=[Issue(pointer, f"larger than {limits.max_file_bytes} bytes")],
        )
    if not data:
        raise FileRejected(f"{field.name}: the file is empty", issues=[Issue(pointer, "empty")])
    media_type = _media_type(data, declared)
    if media_type is None or not field.accepts_type(media_type):
        shown = media_type or (declared or "an unknown type")
        raise FileRejected(
            f"{field.name}: expected {' or '.join(field.accepts)}, got {shown}",
            issues=[Issue(pointer, f"media type {shown} is not accepted")],
        )
    digest = hashlib.sha256(data).hexdigest()
    pages: int | None = None
    text: str | None = None
    if media_type == "application/pdf":
        pages, text = _pdf_text(field, data, limits)
    elif media_type in TEXT_TYPES:
        text = data.decode("utf-8").replace("\x00", "")
    return PreparedFile(field.name, digest, media_type, len(data), data, pages, text, filename)


def _media_type(data: bytes, declared: str | None) -> str | None:
    """The bytes decide; the declared type only refines text (which has no magic number)."""
    sniffed = sniff(data)
    declared = (declared or "").split(";", 1)[0].strip().lower()
    if sniffed == "text/plain" and declared in TEXT_TYPES:
        return declared  # markdown and CSV look like plain text
    return sniffed


def _pdf_text(field: FileField, data: bytes, limits: FileLimits) -> tuple[int, str]:
    from pypdf import PdfReader  # on the first PDF, not at start-up

    pointer = "/" + field.name
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileRejected(
                f"{field.name}: the PDF is encrypted with a password; send an unencrypted copy",
                issues=[Issue(pointer, "encrypted PDF")],
            )
        count = len(reader.pages)
        if count > limits.max_pdf_pages:
            raise FileTooLarge(
                f"{field.name}: the PDF has {count} pages; the limit is {limits.max_pdf_pages}",
                issues=[Issue(pointer, f"more than {limits.max_pdf_pages} pages")],
            )
        texts = [page.extract_text() or "" for page in reader.pages]
    except (FileRejected, FileTooLarge):
        raise
    except Exception as exc:
        # pypdf raises its own errors, and KeyError/ValueError/... on malformed objects: every
        # one of them means the bytes are not a readable PDF, never a server fault.
        raise FileRejected(
            f"{field.name}: the PDF cannot be read ({type(exc).__name__}: {str(exc)[:200]})",
            issues=[Issue(pointer, "corrupt or unreadable PDF")],
        ) from None
    text = "\n\n".join(t.strip() for t in texts).replace("\x00", "").strip()
    if not text:
        raise FileRejected(
            f"{field.name}: the PDF has no text layer (a scan?); send it as an image or as text",
            issues=[Issue(pointer, "no extractable text")],
        )
    return count, text
