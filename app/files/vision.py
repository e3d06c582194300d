"""Which deployments can read images, and the 422 when none on an agent's route can."""

from __future__ import annotations

from collections.abc import Sequence

from app.files.errors import VisionUnavailable
from app.providers.catalog import Deployment


def vision_problem(deployments: Sequence[Deployment]) -> VisionUnavailable | None:
    """None when some deployment of the route (primary and fallbacks) reads images."""
    if any(d.supports_vision for d in deployments):
        return None
    names = ", ".join(dict.fromkeys(d.model for d in deployments)) or "none"
    return VisionUnavailable(
        "the input holds an image, but no model of this agent can read images "
        f"(tried: {names}); add a vision model (models file `model_info: "
        "{supports_vision: true}`) as the agent's model or one of its fallbacks"
    )
