from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin

_ROLE = "role IN ('viewer', 'author', 'publisher', 'admin')"


class Person(IdMixin, Base):
    """Someone who signs in to the web app: by password (argon2id hash) or through the
    company's OpenID Connect provider (issuer + subject), with one role."""

    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint(_ROLE, name="role"),
        UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_person_oidc"),
    )

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    oidc_issuer: Mapped[str | None] = mapped_column(String(500))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Invitation(IdMixin, Base):
    """An admin's invitation of an email address to a role: a one-time link, stored as the
    SHA-256 of its token; used (or expired) once."""

    __tablename__ = "invitation"
    __table_args__ = (CheckConstraint(_ROLE, name="role"),)

    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str] = mapped_column(String(400))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    person_id: Mapped[uuid.UUID | None]
