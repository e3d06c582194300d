"""Records the execution writer set aside (`dead_letter`), for an operator to read back:
`GET /api/dead-letters`, newest first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import SessionDep
from app.core.errors import responses
from app.models import DeadLetter
from app.security.auth import Forbidden, RateLimited, Unauthorized, requires

router = APIRouter(
    prefix="/api",
    tags=["executions"],
    dependencies=[requires("admin")],
    responses=responses(Unauthorized, Forbidden, RateLimited),
)


class DeadLetterRead(BaseModel):
    """A record that could not be stored: what it was (escaped JSON text) and why."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    record_id: uuid.UUID | None
    payload: str
    error: str
    created_at: datetime


class DeadLetterPage(BaseModel):
    items: list[DeadLetterRead]


async def list_dead_letters(session: AsyncSession, *, limit: int) -> list[DeadLetter]:
    """The newest records set aside, at most `limit`."""
    query = select(DeadLetter).order_by(DeadLetter.created_at.desc()).limit(limit)
    return list((await session.scalars(query)).all())


@router.get("/dead-letters")
async def get_dead_letters(
    session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> DeadLetterPage:
    """Execution records the writer set aside because they could not be stored, newest first."""
    rows = await list_dead_letters(session, limit=limit)
    return DeadLetterPage(items=[DeadLetterRead.model_validate(row) for row in rows])
