from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, IdMixin

if TYPE_CHECKING:
    from app.models.spec_version import SpecVersion


class Spec(IdMixin, Base):
    """A named agent: its versions, and the live pointer (null until first published)."""

    __tablename__ = "spec"

    name: Mapped[str] = mapped_column(String(63), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    latest_version: Mapped[int]
    live_version: Mapped[int | None]

    versions: Mapped[list[SpecVersion]] = relationship(
        back_populates="spec", lazy="raise", order_by="SpecVersion.version"
    )
