"""What routing needs besides the question: the models, the knobs, and the shared guards."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.clock import Clock, SystemClock
from app.core.ratelimit import RateLimiter
from app.core.setting_groups import CallOptions
from app.providers.catalog import Deployment, ModelCatalog
from app.providers.tokens import ServerCounts
from app.routing.breakers import CircuitBreakers
from app.routing.budgets import BudgetGuard
from app.routing.concurrency import ConcurrencyGates
from app.routing.pace import HedgeBudget, PaceBook
from app.routing.speed import SpeedBook


@dataclass(frozen=True)
class CallServices:
    """The models, the knobs (`settings.calls`) and the guards every call is routed through."""

    catalog: ModelCatalog
    options: CallOptions
    clock: Clock = field(default_factory=SystemClock)
    breakers: CircuitBreakers | None = None
    limiter: RateLimiter | None = None
    budgets: BudgetGuard | None = None
    pace: PaceBook = field(default_factory=PaceBook)
    hedges: HedgeBudget | None = None  # None: never hedge
    # Per process: what they hold (slots in use, recent speeds) is about this process's calls.
    gates: ConcurrencyGates = field(default_factory=ConcurrencyGates)
    speeds: SpeedBook = field(default_factory=SpeedBook)
    counts: ServerCounts = field(default_factory=ServerCounts)  # servers' own tokenizers


def deployment_key(deployment: Deployment) -> str:
    """Identity of a deployment for breakers and rate limits, shared by all processes."""
    return f"{deployment.alias}|{deployment.model}|{deployment.api_base or ''}"[:300]


def endpoint_key(deployment: Deployment) -> str:
    """Identity of the model behind a deployment, whatever alias names it: two aliases
    configured with the same model at the same server are one deployment."""
    return f"{deployment.model}|{deployment.api_base or ''}"[:300]
