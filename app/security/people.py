"""People: invited by an admin to a role, signed in by password or through the company's
OpenID Connect provider; what they do is recorded under their email address.

Passwords are hashed with argon2id (argon2-cffi's `PasswordHasher`, its RFC 9106 low-memory
profile): memory-hard, so a stolen table is slow to guess at even on GPUs, and the hash
carries its own parameters, so they can be raised later. Hashing takes tens of milliseconds
of CPU, so it runs in a thread, off the event loop. Passkeys were left for later: they need a
browser authenticator in every test and a second flow for recovery.

Services take the session first, flush when they need ids, and never commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.errors import Conflict, NotFound, ProblemError
from app.models import Invitation, Person
from app.security import audit
from app.security.roles import Role
from app.security.store import Principal

_HASHER = PasswordHasher()
INVITE_TTL = timedelta(days=7)
NAME_MAX = 100  # a name and an address fit every column that names a person
EMAIL_MAX = 254  # the longest address SMTP carries (RFC 5321)


class PersonNotFound(NotFound):
    slug = "person-not-found"
    title = "Person not found"


class PersonExists(Conflict):
    slug = "person-exists"
    title = "Someone with this email address already has an account"


class InvitationRefused(ProblemError):
    status = 410
    slug = "invitation-refused"
    title = "The invitation link is not valid, expired or already used"


def normal_email(email: str) -> str:
    """Email addresses compare case-insensitively (the domain is; most local parts are).
    A NUL is dropped: Postgres cannot store one, and no address holds one."""
    return email.replace("\x00", "").strip().lower()


def principal_for(person: Person) -> Principal:
    """A signed-in person as the code sees every caller."""
    return Principal(
        name=person.email,
        scopes=frozenset({person.role}),
        person_id=person.id,
        display_name=person.name,
    )


async def principal_of(
    sessionmaker: async_sessionmaker[AsyncSession], person_id: str
) -> Principal | None:
    """The principal of a person still allowed in (None when removed or unknown)."""
    try:
        ident = uuid.UUID(person_id)
    except ValueError:
        return None
    async with sessionmaker() as session:
        person = await session.get(Person, ident)
    if person is None or person.disabled_at is not None:
        return None
    return principal_for(person)


async def hash_password(password: str) -> str:
    """The argon2id hash of a password, computed in a thread."""
    return await asyncio.to_thread(_HASHER.hash, password)


async def check_password(session: AsyncSession, email: str, password: str) -> Person | None:
    """The active person with this email and password, else None (no hint which was wrong)."""
    person = await session.scalar(select(Person).where(Person.email == normal_email(email)))
    stored = person.password_hash if person is not None else None
    if person is None or stored is None or person.disabled_at is not None:
        return None
    try:
        await asyncio.to_thread(_HASHER.verify, stored, password)
    except (VerificationError, InvalidHashError):
        return None
    return person


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def invite(
    session: AsyncSession, *, email: str, role: Role, principal: Principal
) -> tuple[Invitation, str]:
    """An invitation and its one-time token (shown once, as a link); audited."""
    address = normal_email(email)
    taken = await session.scalar(select(Person.id).where(Person.email == address))
    if taken is not None:
        raise PersonExists(f"{address} already has an account; change their role instead")
    token = secrets.token_urlsafe(32)
    now = await session.scalar(select(func.clock_timestamp()))
    assert now is not None
    invitation = Invitation(
        email=address,
        role=role,
        token_hash=_token_hash(token),
        invited_by=principal.actor,
        expires_at=now + INVITE_TTL,
    )
    session.add(invitation)
    await session.flush()
    await audit.record(
        session,
        actor=principal.actor,
        action="person.invited",
        target=f"person:{address}",
        details={"role": role},
    )
    return invitation, token


async def open_invitation(session: AsyncSession, token: str) -> Invitation:
    """The unused, unexpired invitation of `token`, locked for this transaction (410)."""
    invitation = await session.scalar(
        select(Invitation).where(Invitation.token_hash == _token_hash(token)).with_for_update()
    )
    now = await session.scalar(select(func.clock_timestamp()))
    if invitation is None or invitation.accepted_at is not None:
        raise InvitationRefused("this invitation link is not valid or was already used")
    if now is None or invitation.expires_at <= now:
        raise InvitationRefused("this invitation link has expired; ask an admin for a new one")
    return invitation


async def accept(
    session: AsyncSession,
    invitation: Invitation,
    *,
    name: str | None,
    password: str | None = None,
    oidc: tuple[str, str] | None = None,
) -> Person:
    """Make the invited person (with a password, or an OIDC identity); the link is used up."""
    taken = await session.scalar(select(Person.id).where(Person.email == invitation.email))
    if taken is not None:
        raise PersonExists(f"{invitation.email} already has an account")
    person = Person(
        email=invitation.email,
        name=(name or "").replace("\x00", "")[:NAME_MAX] or None,
        role=invitation.role,
        password_hash=await hash_password(password) if password else None,
        oidc_issuer=oidc[0] if oidc else None,
        oidc_subject=oidc[1] if oidc else None,
    )
    session.add(person)
    await session.flush()
    invitation.accepted_at = await session.scalar(select(func.clock_timestamp()))
    invitation.person_id = person.id
    await audit.record(
        session,
        actor=person.email,
        action="person.joined",
        target=f"person:{person.email}",
        details={"role": person.role, "via": "oidc" if oidc else "password"},
    )
    return person


async def for_oidc(
    session: AsyncSession, *, issuer: str, subject: str, email: str | None, name: str | None
) -> Person | None:
    """The person an OIDC identity signs in as: known by issuer and subject, or by a verified
    email address (linked now), or joining through a pending invitation; else None."""
    person = await session.scalar(
        select(Person).where(Person.oidc_issuer == issuer, Person.oidc_subject == subject)
    )
    email = email if email and len(email) <= EMAIL_MAX else None
    if person is None and email:
        person = await session.scalar(select(Person).where(Person.email == normal_email(email)))
        if person is not None and person.oidc_subject is None:
            person.oidc_issuer, person.oidc_subject = issuer, subject
        elif person is None:
            return await _join_by_email(session, normal_email(email), name, (issuer, subject))
    if person is None or person.disabled_at is not None or person.oidc_subject != subject:
        return None
    return person


async def _join_by_email(
    session: AsyncSession, email: str, name: str | None, oidc: tuple[str, str]
) -> Person | None:
    now = await session.scalar(select(func.clock_timestamp()))
    invitation = await session.scalar(
        select(Invitation)
        .where(
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > now,
        )
        .order_by(Invitation.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if invitation is None:
        return None
    return await accept(session, invitation, name=name, oidc=oidc)


class InvitationNotFound(NotFound):
    slug = "invitation-not-found"
    title = "Invitation not found"


async def revoke_invitation(
    session: AsyncSession, invitation_id: uuid.UUID, *, principal: Principal
) -> None:
    """Make an unused invitation's link stop working (it expires now; idempotent); audited."""
    invitation = await session.get(Invitation, invitation_id, with_for_update=True)
    if invitation is None or invitation.accepted_at is not None:
        raise InvitationNotFound(f"no unused invitation {invitation_id}")
    now = await session.scalar(select(func.clock_timestamp()))
    assert now is not None
    invitation.expires_at = min(invitation.expires_at, now)
    await session.flush()
    await audit.record(
        session,
        actor=principal.actor,
        action="person.invitation_revoked",
        target=f"person:{invitation.email}",
        details={"role": invitation.role},
    )


async def list_people(session: AsyncSession) -> Sequence[Person]:
    """Everyone with an account, by email."""
    return (await session.scalars(select(Person).order_by(Person.email))).all()


async def list_invitations(session: AsyncSession) -> Sequence[Invitation]:
    """Invitations not yet used nor expired, newest first."""
    query = (
        select(Invitation)
        .where(Invitation.accepted_at.is_(None), Invitation.expires_at > func.clock_timestamp())
        .order_by(Invitation.created_at.desc())
    )
    return (await session.scalars(query)).all()


async def change(
    session: AsyncSession,
    person_id: uuid.UUID,
    *,
    role: Role | None,
    disabled: bool | None,
    principal: Principal,
) -> Person:
    """Change a person's role, or remove (disable) them; audited. Their web sessions see
    the change on their next page: each page reads the person again."""
    person = await session.get(Person, person_id)
    if person is None:
        raise PersonNotFound(f"no person {person_id}")
    if role is not None:
        person.role = role
    if disabled is not None:
        person.disabled_at = (
            await session.scalar(select(func.clock_timestamp())) if disabled else None
        )
    await session.flush()
    await audit.record(
        session,
        actor=principal.actor,
        action="person.changed",
        target=f"person:{person.email}",
        details={"role": person.role, "disabled": person.disabled_at is not None},
    )
    return person
