from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, IdMixin

if TYPE_CHECKING:
    from app.models.spec import Spec


class SpecVersion(IdMixin, Base):
    """An immutable snapshot of a spec document; never updated once written."""

    __tablename__ = "spec_version"
    __table_args__ = (UniqueConstraint("spec_id", "version", name="uq_spec_version_number"),)

    spec_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("spec.id", ondelete="CASCADE"))
    version: Mapped[int]
    document: Mapped[dict[str, Any]]
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    parent_version: Mapped[int | None]
    author: Mapped[str] = mapped_column(String(400))
    message: Mapped[str] = mapped_column(String(2000))

    spec: Mapped[Spec] = relationship(back_populates="versions", lazy="raise")
