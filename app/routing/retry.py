"""When to try a model again, and how long to wait first."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring the provider's Retry-After.

    Only transient failures are retried (429, 5xx, timeouts, connection errors); a 4xx
    caused by the request would fail the same way again.
    """

    max_retries: int = 2
    base_s: float = 0.1
    cap_s: float = 5.0
    rand: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def delay(self, retry: int, retry_after_s: float | None) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry)."""
        # "Equal jitter": half the backoff is guaranteed, half random, so retries from many
        # callers spread out without any of them retrying almost at once.
        backoff = min(self.cap_s, self.base_s * 2**retry)
        jittered: float = backoff / 2 + float(self.rand()) * backoff / 2
        if retry_after_s is not None:
            return max(float(retry_after_s), jittered)
        return jittered
