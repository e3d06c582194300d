"""Guardrails and release requests as the API shows them (labels, rollouts and shadows are
in `schemas`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from app.core.schemas import RequestBody
from app.registry.schemas import DiffRead, Schema

Publisher = Annotated[str, Field(min_length=1, max_length=320)]


class GuardrailsWrite(RequestBody):
    publishers: list[Publisher] | None = Field(
        default=None,
        max_length=200,
        description="Who may publish: people's email addresses or keys' names; null: every "
        "publisher. Admins always may.",
    )
    require_approval: bool = Field(
        default=False,
        description="A publish waits as a release request until another publisher approves it.",
    )
    rules_only: bool = Field(
        default=False,
        description="Authors may change rules and examples, not the input or output schema.",
    )


class GuardrailsRead(Schema):
    publishers: list[str] | None = None
    require_approval: bool = False
    rules_only: bool = False
    updated_by: str | None = None
    updated_at: datetime | None = None


class DecisionRequest(RequestBody):
    note: str | None = Field(default=None, max_length=2000)


class ReleaseRequestRead(Schema):
    id: uuid.UUID
    version: int
    status: Literal["pending", "approved", "rejected"]
    requested_by: str = Field(validation_alias="requester_label")
    requested_by_actor: str = Field(
        validation_alias="requested_by",
        description="How the audit trail names the requester (an email address or key id).",
    )
    reason: str | None
    force: bool
    confirm_breaking: bool
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    release_id: uuid.UUID | None
    created_at: datetime


class ReleaseRequestDetail(ReleaseRequestRead):
    diff: DiffRead | None = Field(
        default=None, description="From the live version to the requested one (null: none live)."
    )
    tests: dict[str, Any] | None = Field(
        default=None, description="The requested version's latest test run (null: none)."
    )


class ReleaseRequestList(Schema):
    items: list[ReleaseRequestRead]
