"""API shapes of the registry: what callers send and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.compiler.document import NAME_PATTERN
from app.core.schemas import RequestBody
from app.registry.contract import ContractDiff

# Version numbers are Postgres integers: a larger one in a request is a 422, not a 500.
VERSION_MAX = 2**31 - 1


class Schema(BaseModel):
    """Shared base: read from ORM objects, no unknown fields accepted."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


# The document's shape for clients and generators; the server checks it in full
# (check_document) and reports every problem with a JSON Pointer.
DOCUMENT_SHAPE: dict[str, Any] = {
    "required": ["name", "title", "input_schema", "output_schema"],
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN},
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string", "maxLength": 5000},
        "input_schema": {"type": "object", "description": "JSON Schema 2020-12, type object."},
        "rules": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "output_schema": {"type": "object", "description": "JSON Schema 2020-12, type object."},
        "examples": {"type": "array", "items": {"type": "object"}, "maxItems": 50},
        "model": {"type": ["object", "null"]},
        "tests": {"type": "array", "items": {"type": "object"}, "maxItems": 500},
    },
    "additionalProperties": False,
}
Document = Annotated[
    dict[str, Any],
    Field(description="The spec document (see the README).", json_schema_extra=DOCUMENT_SHAPE),
]


class SpecCreate(RequestBody):
    """`POST /api/specs`: the first version of a new spec."""

    document: Document
    message: str = Field(default="Initial version", max_length=2000)


class VersionCreate(RequestBody):
    """`POST /api/specs/{name}/versions`: a new version on top of `base_version`."""

    document: Document
    base_version: int = Field(
        ge=1, le=VERSION_MAX, description="The latest version the author started from."
    )
    message: str = Field(default="", max_length=2000)


class PublishRequest(RequestBody):
    version: int = Field(ge=1, le=VERSION_MAX)
    force: bool = False
    reason: str | None = Field(default=None, max_length=2000)
    confirm_breaking: bool = Field(
        default=False,
        description="Publish even though the contract diff against the live version breaks "
        "callers; recorded in the release.",
    )


class RollbackRequest(RequestBody):
    version: int | None = Field(
        default=None, ge=1, le=VERSION_MAX, description="Default: the previous live one."
    )
    reason: str | None = Field(default=None, max_length=2000)


class SpecRead(Schema):
    name: str
    title: str
    live_version: int | None
    latest_version: int
    created_at: datetime


class SpecList(Schema):
    items: list[SpecRead]


class VersionRead(Schema):
    version: int
    document: dict[str, Any]
    content_hash: str
    parent_version: int | None
    message: str
    author: str
    created_at: datetime


class VersionSummary(Schema):
    version: int
    content_hash: str
    parent_version: int | None
    message: str
    author: str
    created_at: datetime
    live: bool = False


class VersionList(Schema):
    items: list[VersionSummary]


ReleaseAction = Literal[
    "publish",
    "rollback",
    "label",
    "unlabel",
    "rollout",
    "rollout_aborted",
    "rollout_rolled_back",
    "shadow",
    "shadow_stopped",
]


class ReleaseRead(Schema):
    action: ReleaseAction
    label: str = Field(
        default="production",
        description="The pointer that moved: `production` (the live pointer, its rollouts "
        "and shadows) or a label.",
    )
    from_version: int | None
    to_version: int | None = Field(description="None when a label was removed.")
    actor: str
    reason: str | None
    forced: bool
    contract: ContractDiff | None = Field(
        default=None, description="The contract diff against the version live before."
    )
    breaking_confirmed: bool = False
    details: dict[str, Any] | None = Field(
        default=None,
        description="A rollout's or shadow's settings, and the figures that ended it (the "
        "guard's: which bound they crossed).",
    )
    at: datetime = Field(validation_alias="created_at")


class ReleaseList(Schema):
    items: list[ReleaseRead]


class DiffChange(Schema):
    op: Literal["add", "remove", "replace"]
    path: str = Field(description="JSON Pointer into the document.")
    before: Any = None
    after: Any = None


class DiffRead(Schema):
    from_version: int
    to_version: int
    changes: list[DiffChange]
    contract: ContractDiff = Field(
        description="The input/output schema changes classified as compatible or breaking."
    )
