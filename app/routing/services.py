"""What routing needs besides the question: the models, the knobs, and the shared guards."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.clock import Clock, SystemClock
from app.core.ratelimit import RateLimiter
from app.providers.catalog import ModelCatalog
from app.routing.breakers import CircuitBreakers
from app.routing.budgets import BudgetGuard
from app.routing.retry import RetryPolicy


@dataclass(frozen=True)
class CallOptions:
    """Per-call knobs, from settings and the spec."""

    default_model: str
    max_reasks: int
    attempt_timeout_s: float
    deadline_s: float
    rate_limit_wait_s: float = 2.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class CallServices:
    """The models and the guards every call is routed through."""

    catalog: ModelCatalog
    options: CallOptions
    clock: Clock = field(default_factory=SystemClock)
    breakers: CircuitBreakers | None = None
    limiter: RateLimiter | None = None
    budgets: BudgetGuard | None = None
