"""The settings groups: related knobs as typed, immutable models a component takes whole.

Each group is the very configuration object its component takes (`FileLimits` for file
inputs, `BreakerConfig` for the circuit breakers, `RetryPolicy` for retries…), so each
default is written once, here. `app.core.settings` assembles them into `Settings` and reads
them from the environment under their flat `SPECLOOM_` names.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True, slots=True)
class Env:
    """The flat environment name (without `SPECLOOM_`) of a group field not named so itself;
    `Env(None)`: the field is set in code only (or in its group's JSON variable)."""

    name: str | None


class Group(BaseModel):
    """A group of settings: immutable, and unknown names are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class RetryPolicy(Group):
    """Exponential backoff with jitter, honouring the provider's Retry-After.

    Only transient failures are retried (429, 5xx, timeouts, connection errors); a 4xx
    caused by the request would fail the same way again.
    """

    max_retries: int = Field(default=2, ge=0, le=10, description="Retries per model on 429/5xx.")
    base_s: Annotated[float, Env("retry_base_s")] = Field(
        default=0.1, ge=0, description="First backoff; doubles each retry."
    )
    cap_s: Annotated[float, Env("retry_cap_s")] = Field(
        default=5.0, ge=0, description="Longest backoff between retries."
    )
    rand: Annotated[Callable[[], float], Env(None)] = Field(
        default=random.random, exclude=True, repr=False
    )

    def delay(self, retry: int, retry_after_s: float | None) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry)."""
        # "Equal jitter": half the backoff is guaranteed, half random, so retries from many
        # callers spread out without any of them retrying almost at once.
        backoff = min(self.cap_s, self.base_s * 2**retry)
        jittered: float = backoff / 2 + float(self.rand()) * backoff / 2
        if retry_after_s is not None:
            return max(float(retry_after_s), jittered)
        return jittered


class CallOptions(Group):
    """The knobs of every call (a spec may narrow the deadline)."""

    default_model: str = Field(default="fast", description="Alias used when a spec names none.")
    max_reasks: int = Field(default=2, ge=0, le=5, description="Re-asks after invalid output.")
    attempt_timeout_s: float = Field(default=30.0, gt=0, description="Per-attempt model timeout.")
    deadline_s: Annotated[float, Env("call_deadline_s")] = Field(
        default=60.0, gt=0, description="Overall deadline of a call."
    )
    max_deadline_s: Annotated[float, Env("max_call_deadline_s")] = Field(
        default=300.0, gt=0, description="Upper bound of a deadline a request may ask for."
    )
    rate_limit_wait_s: float = Field(
        default=2.0, ge=0, description="Longest wait for a model at its rpm/tpm before a fallback."
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timed_out_leash_s: float = Field(
        default=0.5,
        gt=0,
        description="Attempt timeout, when a fallback waits, of a model that timed out within "
        "timeout_memory_s (its recent p95 x3 when longer).",
    )
    timeout_memory_s: float = Field(
        default=60.0, ge=0, description="How long a model's timeout shortens its leash."
    )
    hedge: bool = Field(
        default=False,
        description="Ask the next model in parallel when one is slower than its recent p95; "
        "the first valid answer wins, the other call is cancelled.",
    )
    hedge_max_extra: float = Field(
        default=0.1, ge=0, description="Hedged calls at most, as a share of all calls."
    )
    hedge_min_samples: int = Field(
        default=20, ge=1, description="Answers a model must have given before it is hedged."
    )


class BreakerConfig(Group):
    """When a deployment's circuit breaker opens and how it recovers."""

    failure_threshold: Annotated[int, Env("breaker_failures")] = Field(
        default=5, ge=1, description="Failures in a row (summed over processes) that open it."
    )
    cooldown_s: Annotated[float, Env("breaker_cooldown_s")] = Field(
        default=30.0, gt=0, description="Open time before a probe."
    )
    probe_timeout_s: Annotated[float, Env(None)] = Field(
        default=30.0, gt=0, description="A probe that has not reported by then may be replaced."
    )
    window: Annotated[int, Env(None)] = Field(
        default=50, ge=1, description="Recent outcomes kept (per process) for error rate, latency."
    )


class RoutingSettings(Group):
    """The guards shared by every process: circuit breakers and budgets."""

    breakers: BreakerConfig = Field(default_factory=BreakerConfig)
    budget_refresh_s: float = Field(
        default=1.0, ge=0, description="How stale the budget view of a process may be."
    )


class WriterSettings(Group):
    """The execution log: the writer's batches, and how long records are kept."""

    flush_interval_s: Annotated[float, Env("execution_flush_interval_s")] = Field(
        default=0.05, gt=0
    )
    batch_size: Annotated[int, Env("execution_batch_size")] = Field(default=200, ge=1)
    stop_timeout_s: Annotated[float, Env("execution_stop_timeout_s")] = Field(
        default=15.0, gt=0, description="How long a stopping server keeps writing records."
    )
    retention_days: Annotated[int | None, Env("execution_retention_days")] = Field(
        default=None,
        ge=1,
        description="Days an execution record is kept (unset: for ever); a spec's "
        "`retention_days` overrides it. Usage figures outlive the records (rollups).",
    )
    raw_text_retention_days: Annotated[int | None, Env("execution_raw_text_retention_days")] = (
        Field(
            default=None,
            ge=1,
            description="Days the model's raw text of each attempt is kept (unset: as long as "
            "the record); a spec's `raw_text_retention_days` overrides it.",
        )
    )
    retention_interval_s: Annotated[float, Env("execution_retention_interval_s")] = Field(
        default=600.0, gt=0, description="How often retention runs (and months are made ahead)."
    )
    retention_batch: Annotated[int, Env("execution_retention_batch")] = Field(
        default=500, ge=1, le=100_000, description="Records removed per statement."
    )


class CacheSettings(Group):
    """The response cache."""

    ttl_s: Annotated[float, Env("cache_ttl_s")] = Field(
        default=3600, gt=0, description="Lifetime of a cached output."
    )
    max_entries: Annotated[int, Env("cache_max_entries")] = Field(
        default=10_000, ge=1, description="In-process LRU size."
    )


class DocumentLimits(Group):
    """Bounds on a spec document."""

    max_bytes: Annotated[int, Env("max_document_bytes")] = Field(default=256 * 1024, ge=1024)
    max_rules: int = Field(default=100, ge=1)
    max_rule_chars: int = Field(default=2000, ge=10)
    max_schema_depth: int = Field(default=32, ge=4)


class BodyLimits(Group):
    """Bounds on request bodies, checked before any route runs."""

    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body (413 beyond)."
    )
    max_json_depth: int = Field(default=64, ge=4, le=500, description="Deepest JSON nesting.")
    max_string_chars: int = Field(
        default=262_144, ge=1000, description="Longest string in a JSON request body."
    )
    max_upload_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1024, description="Largest multipart/form-data call body."
    )


class FileLimits(Group):
    """Bounds on the files of a call, and whether their bytes are kept."""

    max_file_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest file in a call (413 beyond)."
    )
    max_pdf_pages: int = Field(default=100, ge=1, description="Most pages of a PDF input.")
    keep_files: bool = Field(
        default=False, description="Store call input files' bytes (once per SHA-256)."
    )


class WebSettings(Group):
    """The web app's sessions and login links, and the HTTP server's connection limits."""

    session_secret: str | None = Field(
        default=None, description="Signs web sessions and login links; unset: from the admin key."
    )
    session_max_age_s: int = Field(default=12 * 3600, ge=60, description="Web session lifetime.")
    login_link_ttl_s: int = Field(
        default=3600, ge=10, description="How long the login link `serve` prints stays valid."
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect provider for SSO sign-in (its issuer URL); unset: no SSO.",
    )
    oidc_client_id: str | None = Field(default=None, description="Our client id at the provider.")
    oidc_client_secret: str | None = Field(
        default=None, description="The client secret; unset: a public client (PKCE only)."
    )
    oidc_scopes: str = Field(default="openid email profile", description="Scopes asked for.")
    oidc_name: str = Field(default="SSO", description="The provider's name on the sign-in page.")
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest time a client may take to send its headers."
    )
    keep_alive_s: int = Field(
        default=5, ge=1, description="How long an idle keep-alive connection stays open."
    )


class JobSettings(Group):
    """Jobs and the workers that run their items."""

    max_batch_items: int = Field(default=10_000, ge=1, description="Most inputs in one job.")
    concurrency: Annotated[int, Env("worker_concurrency")] = Field(
        default=10, ge=1, le=500, description="Items one `specloom worker` runs at once."
    )
    lease_s: Annotated[float, Env("worker_lease_s")] = Field(
        default=30.0,
        gt=0,
        description="Heartbeat silence after which a worker's items go to another worker.",
    )
    rate_limit_wait_s: Annotated[float, Env("worker_rate_limit_wait_s")] = Field(
        default=120.0,
        ge=0,
        description="In a worker, how long an item waits for its model's rpm/tpm (a batch "
        "should wait its turn rather than fail over).",
    )
    poll_interval_s: Annotated[float, Env("worker_poll_interval_s")] = Field(
        default=1.0, gt=0, description="How often an idle worker looks for scheduled retries."
    )
    serve_worker: bool = Field(
        default=True,
        description="`specloom serve` also runs job items in its own process (one machine, "
        "nothing else to start); off where dedicated `specloom worker`s run them.",
    )
    stop_timeout_s: Annotated[float, Env("worker_stop_timeout_s")] = Field(
        default=30.0, gt=0, description="How long a stopping worker waits for running items."
    )


class WebhookSettings(Group):
    """Webhooks sent when a job finishes."""

    secret: Annotated[str | None, Env("webhook_secret")] = Field(
        default=None, description="Signs webhooks; unset: generated once under the data dir."
    )
    allowed_hosts: Annotated[list[str], Env("webhook_allowed_hosts")] = Field(
        default_factory=list,
        description="Webhook hosts allowed even when they resolve to private addresses.",
    )
    timeout_s: Annotated[float, Env("webhook_timeout_s")] = Field(
        default=10.0, gt=0, description="Per delivery attempt."
    )
    max_attempts: Annotated[int, Env("webhook_max_attempts")] = Field(
        default=6, ge=1, le=20, description="Deliveries tried."
    )
    retry_wait_s: Annotated[int, Env("webhook_retry_wait_s")] = Field(
        default=0, ge=0, description="Fixed wait before a retry."
    )
    retry_backoff: Annotated[int, Env("webhook_retry_backoff")] = Field(
        default=4, ge=0, description="Exponential part of the wait: backoff**attempt seconds."
    )


class EvaluationSettings(Group):
    """Test runs."""

    concurrency: Annotated[int, Env("test_concurrency")] = Field(
        default=4, ge=1, le=64, description="Attempts of one test run in flight at once."
    )
    judge_model: str | None = Field(
        default=None, description="Grades `judge` rubrics; unset: they are not evaluated."
    )
