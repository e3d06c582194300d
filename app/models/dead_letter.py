"""Records a writer could not store, set aside instead of blocking every record after them."""

from __future__ import annotations

import uuid

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin


class DeadLetter(IdMixin, Base):
    """One record that failed to be written on its own, kept as escaped JSON text.

    Text, not jsonb: whatever made the record unwritable (a lone surrogate, say) must not
    stop it from being kept; ASCII-escaped JSON holds any Python string.
    """

    __tablename__ = "dead_letter"

    kind: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    payload: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)
