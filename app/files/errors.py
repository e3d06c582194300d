"""The problems a file input can have, each a clear 4xx naming the field."""

from __future__ import annotations

from app.core.errors import InvalidInput, ProblemError


class FileTooLarge(ProblemError):
    status = 413
    slug = "file-too-large"
    title = "A file is too large"


class FileRejected(InvalidInput):
    slug = "invalid-file"
    title = "A file cannot be used"


class VisionUnavailable(InvalidInput):
    slug = "no-vision-model"
    title = "No model of this agent can read images"
