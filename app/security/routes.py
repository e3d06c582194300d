"""Managing API keys and reading the audit trail (admin scope)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.compiler.document import NAME_PATTERN
from app.core.database import SessionDep
from app.core.errors import BadRequest, responses
from app.core.schemas import LABEL_PATTERN, Cursor, Filter, RequestBody
from app.security import actions, audit, keys
from app.security.auth import Forbidden, PrincipalDep, RateLimited, Unauthorized, requires
from app.security.roles import ROLES, Scope

router = APIRouter(
    prefix="/api",
    dependencies=[requires("admin")],
    responses=responses(Unauthorized, Forbidden, RateLimited),
)

AgentName = Annotated[str, Field(pattern=NAME_PATTERN)]
LabelName = Annotated[str, Field(pattern=LABEL_PATTERN)]


class KeyCreate(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(
        min_length=1,
        max_length=2,
        description="One role (viewer, author, publisher, admin), `invoke`, or one of each.",
    )
    agents: list[AgentName] | None = Field(
        default=None, max_length=1000, description="Agents an invoke key may call; null: all."
    )
    labels: list[LabelName] | None = Field(
        default=None,
        max_length=100,
        description="Labels an invoke key may call through (`production` is the live "
        "version); null: any.",
    )
    rpm: int | None = Field(default=None, ge=1, le=1_000_000, description="Requests per minute.")

    @field_validator("scopes")
    @classmethod
    def _one_role(cls, scopes: list[Scope]) -> list[Scope]:
        if len([s for s in scopes if s in ROLES]) > 1:
            raise ValueError(
                "a key has one role (viewer, author, publisher or admin), and may add invoke"
            )
        return scopes


class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The first characters after `sk-sl-`; never the secret.")
    scopes: list[str]
    agents: list[str] | None
    labels: list[str] | None
    rpm: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyRead):
    secret: str = Field(description="The key itself: shown this once, never again.")


class KeyList(BaseModel):
    items: list[KeyRead]


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEventRead]
    next_cursor: str | None


@router.post("/keys", tags=["keys"], status_code=status.HTTP_201_CREATED)
async def create_key(body: KeyCreate, session: SessionDep, principal: PrincipalDep) -> KeyCreated:
    """Create an API key; the response holds its secret, shown this once."""
    created = await actions.create_key(
        session,
        name=body.name,
        scopes=body.scopes,
        agents=body.agents,
        rpm=body.rpm,
        principal=principal,
        labels=body.labels,
    )
    return KeyCreated.model_validate(
        {**KeyRead.model_validate(created.key).model_dump(), "secret": created.secret}
    )


@router.get("/keys", tags=["keys"])
async def list_keys(session: SessionDep) -> KeyList:
    """Every API key (prefix only, never the secret), newest first."""
    return KeyList(items=[KeyRead.model_validate(k) for k in await keys.list_keys(session)])


@router.delete(
    "/keys/{key_id}",
    tags=["keys"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(keys.KeyNotFound),
)
async def revoke_key(
    key_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, request: Request
) -> Response:
    """Revoke a key: it stops working here at once, in other processes within seconds."""
    await actions.revoke_key(session, key_id, store=request.app.state.keys, principal=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/audit", tags=["audit"], responses=responses(BadRequest))
async def list_audit(
    session: SessionDep,
    action: Filter = None,
    target: Filter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> AuditPage:
    """The audit trail of management actions, newest first."""
    rows, next_cursor = await audit.list_events(
        session, action=action, target=target, limit=limit, cursor=cursor
    )
    return AuditPage(
        items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )
