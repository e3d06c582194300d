"""Running a shadow: the candidate answers a call again after live's answer was sent.

The candidate's call goes through the one call path with `source: shadow` (never cached,
budgets counted, recorded with the shadow's id and the live execution it shadowed); the
caller never waits for it, and its failures stay in its record.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import structlog

from app.executions.record import Arm
from app.serving.arms import ShadowRun
from app.serving.call import call
from app.serving.context import Runtime

log = structlog.get_logger(__name__)


def sampled(shadow: ShadowRun | None) -> bool:
    """Whether this call is one of the shadow's sampled share."""
    return shadow is not None and random.random() < shadow.sample


async def run_shadow(
    runtime: Runtime, name: str, shadow: ShadowRun, payload: Any, live_execution_id: uuid.UUID
) -> None:
    """Answer `payload` with the shadow's candidate, recorded beside the live execution."""
    try:
        candidate = await runtime.live.get(name, shadow.version)
        await call(
            runtime.context,
            candidate,
            payload,
            source="shadow",
            arm=Arm(shadow_id=shadow.id, shadow_of=live_execution_id),
        )
    except Exception:  # a shadow must never disturb anything but its own record
        log.exception("shadow call failed", shadow_id=str(shadow.id))
