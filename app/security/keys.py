"""API keys: generated, stored as a hash with a visible prefix, listed, revoked.

Services take the session first, flush when they need ids, and never commit.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.models import ApiKey
from app.security.roles import Scope

KEY_PREFIX = "sk-sl-"
PREFIX_CHARS = 8  # shown after `sk-sl-` so people can tell their keys apart


class KeyNotFound(NotFound):
    slug = "key-not-found"
    title = "API key not found"


def hash_secret(secret: str) -> str:
    """The stored form of a secret: hex SHA-256.

    A fast hash is right here (not bcrypt/argon2): the secrets are 256 random bits, so there
    is nothing to brute-force, and the hash must be cheap because every request computes it.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A fresh key: the product prefix and 32 random bytes, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def visible_prefix(secret: str) -> str:
    """What may be shown of a key: the first characters after `sk-sl-`."""
    return secret.removeprefix(KEY_PREFIX)[:PREFIX_CHARS]


@dataclass(frozen=True)
class CreatedKey:
    """A new key and its secret, which exists only here and is shown once."""

    key: ApiKey
    secret: str


async def create_key(
    session: AsyncSession,
    *,
    name: str,
    scopes: Sequence[Scope],
    agents: Sequence[str] | None = None,
    rpm: int | None = None,
    labels: Sequence[str] | None = None,
) -> CreatedKey:
    """Make a key; only its hash and prefix are stored."""
    secret = new_secret()
    key = ApiKey(
        name=name,
        prefix=visible_prefix(secret),
        hash=hash_secret(secret),
        scopes=sorted(set(scopes)),
        agents=sorted(set(agents)) if agents is not None else None,
        labels=sorted(set(labels)) if labels is not None else None,
        rpm=rpm,
    )
    session.add(key)
    await session.flush()
    await session.refresh(key)
    return CreatedKey(key=key, secret=secret)


async def list_keys(session: AsyncSession) -> Sequence[ApiKey]:
    """Every key, revoked ones included, newest first."""
    query = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    return (await session.scalars(query)).all()


async def revoke_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKey:
    """Mark a key revoked (idempotent: revoking twice keeps the first time); 404 if unknown."""
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise KeyNotFound(f"no API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = await session.scalar(select(func.clock_timestamp()))
        await session.flush()
    return key


async def find_by_hash(session: AsyncSession, digest: str) -> ApiKey | None:
    """The unrevoked key whose secret hashes to `digest` (an indexed, unique lookup)."""
    return await session.scalar(
        select(ApiKey).where(ApiKey.hash == digest, ApiKey.revoked_at.is_(None))
    )


async def touch(session: AsyncSession, key_id: uuid.UUID, at: datetime) -> None:
    """Record that a key was used at `at`."""
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at))
