"""Configuration: every knob is a `SPECLOOM_` environment variable (see README)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide configuration read from the environment."""

    model_config = SettingsConfigDict(env_prefix="SPECLOOM_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="Postgres URL; unset runs an embedded Postgres (pgserver)."
    )
    data_dir: Path = Field(default=Path(".specloom"), description="Embedded Postgres and secrets.")
    models_file: Path | None = Field(
        default=None, description="LiteLLM model_list YAML; unset serves the offline model."
    )
    default_model: str = Field(default="fast", description="Alias used when a spec names none.")
    admin_key: str | None = Field(default=None, description="Bootstrap admin key.")
    host: str = "127.0.0.1"
    port: int = 8000
    specs_dir: Path = Field(default=Path("specs"), description="Spec files loaded by `make run`.")

    # Output pipeline
    max_reasks: int = Field(default=2, ge=0, le=5, description="Re-asks after invalid output.")
    attempt_timeout_s: float = Field(default=30.0, gt=0, description="Per-attempt model timeout.")
    call_deadline_s: float = Field(default=60.0, gt=0, description="Overall deadline of a call.")
    max_call_deadline_s: float = Field(
        default=300.0, gt=0, description="Upper bound of a deadline a request may ask for."
    )
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries per model on 429/5xx.")
    retry_base_s: float = Field(default=0.1, ge=0, description="First backoff; doubles each retry.")
    retry_cap_s: float = Field(default=5.0, ge=0, description="Longest backoff between retries.")
    rate_limit_wait_s: float = Field(
        default=2.0, ge=0, description="Longest wait for a model at its rpm/tpm before a fallback."
    )
    budget_refresh_s: float = Field(
        default=1.0, ge=0, description="How stale the budget view of a process may be."
    )
    breaker_failures: int = Field(default=5, ge=1, description="Failures in a row that open it.")
    breaker_cooldown_s: float = Field(default=30.0, gt=0, description="Open time before a probe.")

    lean_provider_path: bool = Field(
        default=True,
        description="Call OpenAI-compatible providers with a plain pooled POST when litellm "
        "would only pass the call through (same semantics, less overhead); off: always litellm.",
    )

    # Execution log writer
    execution_flush_interval_s: float = Field(default=0.05, gt=0)
    execution_batch_size: int = Field(default=200, ge=1)

    # Response cache (issue 4)
    cache_ttl_s: float = Field(default=3600, gt=0, description="Lifetime of a cached output.")
    test_concurrency: int = Field(
        default=4, ge=1, le=64, description="Attempts of one test run in flight at once."
    )
    judge_model: str | None = Field(
        default=None, description="Grades `judge` rubrics; unset: they are not evaluated."
    )
    cache_max_entries: int = Field(default=10_000, ge=1, description="In-process LRU size.")

    # Bounds on spec documents
    max_document_bytes: int = Field(default=256 * 1024, ge=1024)
    max_rules: int = Field(default=100, ge=1)
    max_rule_chars: int = Field(default=2000, ge=10)
    max_schema_depth: int = Field(default=32, ge=4)

    # Security (issue 7)
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body (413 beyond)."
    )
    max_json_depth: int = Field(default=64, ge=4, le=500, description="Deepest JSON nesting.")
    max_string_chars: int = Field(
        default=262_144, ge=1000, description="Longest string in a JSON request body."
    )
    key_cache_ttl_s: float = Field(
        default=5.0, ge=0, description="How long a process trusts a key lookup (revocation lag)."
    )

    # Documents and images as inputs (issue 11)
    max_file_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest file in a call (413 beyond)."
    )
    max_pdf_pages: int = Field(default=100, ge=1, description="Most pages of a PDF input.")
    max_upload_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1024, description="Largest multipart/form-data call body."
    )
    keep_files: bool = Field(
        default=False, description="Store call input files' bytes (once per SHA-256)."
    )
    # Web app (issue 6)
    session_secret: str | None = Field(
        default=None, description="Signs web sessions and login links; unset: from the admin key."
    )
    session_max_age_s: int = Field(default=12 * 3600, ge=60, description="Web session lifetime.")
    login_link_ttl_s: int = Field(
        default=3600, ge=10, description="How long the login link `serve` prints stays valid."
    )
    # Jobs and workers (issue 8)
    max_batch_items: int = Field(default=10_000, ge=1, description="Most inputs in one job.")
    worker_concurrency: int = Field(
        default=10, ge=1, le=500, description="Items one `specloom worker` runs at once."
    )
    worker_lease_s: float = Field(
        default=30.0,
        gt=0,
        description="Heartbeat silence after which a worker's items go to another worker.",
    )
    worker_rate_limit_wait_s: float = Field(
        default=120.0,
        ge=0,
        description="In a worker, how long an item waits for its model's rpm/tpm (a batch "
        "should wait its turn rather than fail over).",
    )
    worker_poll_interval_s: float = Field(
        default=1.0, gt=0, description="How often an idle worker looks for scheduled retries."
    )
    webhook_secret: str | None = Field(
        default=None, description="Signs webhooks; unset: generated once under the data dir."
    )
    webhook_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Webhook hosts allowed even when they resolve to private addresses.",
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="Per delivery attempt.")
    webhook_max_attempts: int = Field(default=6, ge=1, le=20, description="Deliveries tried.")
    webhook_retry_wait_s: int = Field(default=0, ge=0, description="Fixed wait before a retry.")
    webhook_retry_backoff: int = Field(
        default=4, ge=0, description="Exponential part of the wait: backoff**attempt seconds."
    )

    log_level: str = "INFO"
    log_json: bool = Field(default=False, description="JSON logs instead of console lines.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
