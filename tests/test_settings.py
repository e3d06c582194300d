"""Settings in groups: every `SPECLOOM_` name still reaches its knob, under its flat name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from app.core.setting_groups import FileLimits, RetryPolicy
from app.core.settings import FLAT_NAMES, Settings

# Every variable the flat settings read before they were grouped: none may stop working.
ENVIRONMENT_NAMES = {
    *("database_url", "data_dir", "models_file", "default_model", "admin_key", "host", "port"),
    *("specs_dir", "max_reasks", "attempt_timeout_s", "call_deadline_s", "max_call_deadline_s"),
    *("max_retries", "retry_base_s", "retry_cap_s", "rate_limit_wait_s", "budget_refresh_s"),
    *("breaker_failures", "breaker_cooldown_s", "lean_provider_path"),
    *("execution_flush_interval_s", "execution_batch_size", "cache_ttl_s", "test_concurrency"),
    *("judge_model", "cache_max_entries", "max_document_bytes", "max_rules", "max_rule_chars"),
    *("max_schema_depth", "max_body_bytes", "max_json_depth", "max_string_chars"),
    *("key_cache_ttl_s", "max_file_bytes", "max_pdf_pages", "max_upload_bytes", "keep_files"),
    *("session_secret", "session_max_age_s", "login_link_ttl_s", "max_batch_items"),
    *("worker_concurrency", "worker_lease_s", "worker_rate_limit_wait_s"),
    *("worker_poll_interval_s", "webhook_secret", "webhook_allowed_hosts", "webhook_timeout_s"),
    *("webhook_max_attempts", "webhook_retry_wait_s", "webhook_retry_backoff"),
    *("log_level", "log_json"),
    # Added since: the reliability knobs.
    *("execution_stop_timeout_s", "timed_out_leash_s", "timeout_memory_s", "hedge"),
    *("hedge_max_extra", "hedge_min_samples", "serve_worker", "worker_stop_timeout_s"),
    *("header_timeout_s", "keep_alive_s"),
    # Added since: how often each process checks running rollouts' guards.
    "rollout_guard_interval_s",
    # Teams: SSO through an OpenID Connect provider.
    *("oidc_issuer", "oidc_client_id", "oidc_client_secret", "oidc_scopes", "oidc_name"),
    # The log at scale: how long executions (and their raw text) are kept.
    *("execution_retention_days", "execution_raw_text_retention_days"),
    *("execution_retention_interval_s", "execution_retention_batch"),
}
GROUPS = {
    name
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
}


def at(settings: Settings, path: tuple[str, ...]) -> Any:
    value: Any = settings
    for name in path:
        value = getattr(value, name)
    return value


def other_value(default: Any) -> tuple[str, Any]:
    """An environment string for a knob, and the value it must become (not the default)."""
    if isinstance(default, bool):
        return str(not default).lower(), not default
    if isinstance(default, int | float):
        return str(default + 1), default + 1
    if isinstance(default, list):
        return '["hooks.example"]', ["hooks.example"]
    return "from-the-environment", "from-the-environment"


def test_every_old_name_is_still_a_setting() -> None:
    top_level = set(Settings.model_fields) - GROUPS
    assert set(FLAT_NAMES) | top_level == ENVIRONMENT_NAMES
    assert not set(FLAT_NAMES) & top_level


@pytest.mark.parametrize("name", sorted(FLAT_NAMES))
def test_a_flat_variable_sets_its_group_field(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = FLAT_NAMES[name].path
    default = at(Settings(), path)
    if default is None and name.endswith("_days"):  # retention periods, unset by default
        raw, expected = "30", 30
    else:
        raw, expected = other_value(default)
    monkeypatch.setenv(f"SPECLOOM_{name.upper()}", raw)
    assert at(Settings(), path) == expected


def test_flat_keywords_and_copies_reach_the_groups() -> None:
    settings = Settings(max_file_bytes=4096, max_retries=0, data_dir=Path("/tmp/x"))
    assert settings.files == FileLimits(max_file_bytes=4096)
    assert settings.calls.retry.max_retries == 0
    copied = settings.model_copy(update={"max_pdf_pages": 3, "retry_base_s": 0.5, "port": 1})
    assert (copied.files.max_file_bytes, copied.files.max_pdf_pages) == (4096, 3)
    assert copied.calls.retry == RetryPolicy(max_retries=0, base_s=0.5)
    assert copied.port == 1
    assert (settings.files.max_pdf_pages, settings.calls.retry.base_s) == (100, 0.1)


def test_a_keyword_beats_the_environment_and_a_group_beats_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPECLOOM_MAX_FILE_BYTES", "2048")
    monkeypatch.setenv("SPECLOOM_KEEP_FILES", "true")
    assert Settings().files == FileLimits(max_file_bytes=2048, keep_files=True)
    assert Settings(max_file_bytes=4096).files == FileLimits(max_file_bytes=4096, keep_files=True)
    assert Settings(files=FileLimits()).files == FileLimits()


def test_flat_values_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="max_reasks"):
        Settings(max_reasks=9)
    monkeypatch.setenv("SPECLOOM_MAX_FILE_BYTES", "10")
    with pytest.raises(ValueError, match="max_file_bytes"):
        Settings()
