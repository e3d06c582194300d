"""People and their invitations (admin role)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from app.core.database import SessionDep
from app.core.errors import InvalidInput, responses
from app.core.schemas import RequestBody
from app.models import Person
from app.security import people
from app.security.auth import Forbidden, PrincipalDep, RateLimited, Unauthorized, requires
from app.security.roles import Role

router = APIRouter(
    prefix="/api/people",
    tags=["people"],
    dependencies=[requires("admin")],
    responses=responses(Unauthorized, Forbidden, RateLimited, InvalidInput),
)

Email = Annotated[
    str, Field(min_length=3, max_length=people.EMAIL_MAX, pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")
]


class InvitationCreate(RequestBody):
    email: Email
    role: Role


class InvitationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime


class InvitationCreated(InvitationRead):
    link: str = Field(description="The one-time link to send the person: shown this once.")


class InvitationList(BaseModel):
    items: list[InvitationRead]


class PersonRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str | None
    role: str
    sso: bool = Field(description="Signs in through the OpenID Connect provider.")
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, person: Person) -> PersonRead:
        return cls.model_validate(
            {**{k: getattr(person, k) for k in _PERSON_FIELDS}, "sso": bool(person.oidc_subject)}
        )


_PERSON_FIELDS = ("id", "email", "name", "role", "created_at", "disabled_at")


class PersonList(BaseModel):
    items: list[PersonRead]


class PersonChange(RequestBody):
    role: Role | None = None
    disabled: bool | None = Field(default=None, description="true removes the person's access.")


def invitation_link(request: Request, token: str) -> str:
    """Where the invited person goes: this server's join page with the token."""
    return f"{str(request.base_url).rstrip('/')}/ui/invite?token={token}"


@router.post(
    "/invitations",
    status_code=status.HTTP_201_CREATED,
    responses=responses(people.PersonExists),
)
async def invite(
    body: InvitationCreate, request: Request, session: SessionDep, principal: PrincipalDep
) -> InvitationCreated:
    """Invite someone by email address to a role: a one-time link, valid for 7 days."""
    invitation, token = await people.invite(
        session, email=body.email, role=body.role, principal=principal
    )
    read = InvitationRead.model_validate(invitation)
    return InvitationCreated(**read.model_dump(), link=invitation_link(request, token))


@router.get("/invitations")
async def list_invitations(session: SessionDep) -> InvitationList:
    """Invitations not used yet, newest first."""
    rows = await people.list_invitations(session)
    return InvitationList(items=[InvitationRead.model_validate(i) for i in rows])


@router.delete(
    "/invitations/{invitation_id:uuid}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(people.InvitationNotFound),
)
async def revoke_invitation(
    invitation_id: Annotated[uuid.UUID, Path(description="An invitation id.")],
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    """Revoke an unused invitation: its link stops working at once."""
    await people.revoke_invitation(session, invitation_id, principal=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("")
async def list_people(session: SessionDep) -> PersonList:
    """Everyone with an account, by email address."""
    return PersonList(items=[PersonRead.of(p) for p in await people.list_people(session)])


# `:uuid`: `/invitations` with another method is a 405, not a bad person id.
@router.patch("/{person_id:uuid}", responses=responses(people.PersonNotFound))
async def change_person(
    person_id: Annotated[uuid.UUID, Path(description="A person's id.")],
    body: PersonChange,
    session: SessionDep,
    principal: PrincipalDep,
) -> PersonRead:
    """Change a person's role, or remove (`disabled: true`) or restore their access."""
    person = await people.change(
        session, person_id, role=body.role, disabled=body.disabled, principal=principal
    )
    return PersonRead.of(person)
