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

    # Execution log writer
    execution_flush_interval_s: float = Field(default=0.05, gt=0)
    execution_batch_size: int = Field(default=200, ge=1)

    # Bounds on spec documents
    max_document_bytes: int = Field(default=256 * 1024, ge=1024)
    max_rules: int = Field(default=100, ge=1)
    max_rule_chars: int = Field(default=2000, ge=10)
    max_schema_depth: int = Field(default=32, ge=4)

    log_level: str = "INFO"
    log_json: bool = Field(default=False, description="JSON logs instead of console lines.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
