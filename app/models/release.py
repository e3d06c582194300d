from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin


class Release(IdMixin, Base):
    """One move of a spec's live pointer: a publish or a rollback, with who and why."""

    __tablename__ = "release"
    __table_args__ = (
        CheckConstraint(
            "action IN ('publish', 'rollback', 'label', 'unlabel', 'rollout',"
            " 'rollout_aborted', 'rollout_rolled_back', 'shadow', 'shadow_stopped')",
            name="action",
        ),
    )

    spec_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("spec.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    # Which pointer moved: `production` (the live pointer, and its rollouts and shadows) or
    # a label's name.
    label: Mapped[str] = mapped_column(
        String(63), default="production", server_default="production"
    )
    from_version: Mapped[int | None]
    to_version: Mapped[int | None]  # None: a label removed
    actor: Mapped[str] = mapped_column(String(400))
    reason: Mapped[str | None] = mapped_column(String(2000))
    forced: Mapped[bool] = mapped_column(default=False)
    # The contract diff against the version live before (publish only): `breaking` and its
    # `changes`; and whether the publisher confirmed a breaking change explicitly.
    contract: Mapped[dict[str, Any] | None]
    breaking_confirmed: Mapped[bool] = mapped_column(default=False, server_default="false")
    # A rollout's or shadow's figures and settings (the guard's: what tripped it).
    details: Mapped[dict[str, Any] | None]
