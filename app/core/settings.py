"""Configuration: every knob is a `SPECLOOM_` environment variable (see README).

Related knobs form typed groups (`settings.files`, `settings.calls`, `settings.cache`…), and
a component is handed its whole group. The group classes are the very configuration objects
the components take (`FileLimits`, `BreakerConfig`, `RetryPolicy`…), so each default is
written once, here.

The environment keeps its flat names: `SPECLOOM_MAX_FILE_BYTES` sets
`settings.files.max_file_bytes`. A group field is named in the environment by its own name,
or by the one its `Env` marker gives (`Env(None)`: it has no variable of its own). Flat names
also work as keyword arguments (`Settings(max_retries=0)`) and in `model_copy(update=...)`,
so a test can say `settings.model_copy(update={"max_retries": 0})`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, Self

from pydantic import BaseModel, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from app.core.setting_groups import (
    BodyLimits,
    CacheSettings,
    CallOptions,
    DocumentLimits,
    Env,
    EvaluationSettings,
    FileLimits,
    Group,
    JobSettings,
    RoutingSettings,
    WebhookSettings,
    WebSettings,
    WriterSettings,
)


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
    lean_provider_path: bool = Field(
        default=True,
        description="Call OpenAI-compatible providers with a plain pooled POST when litellm "
        "would only pass the call through (same semantics, less overhead); off: always litellm.",
    )
    admin_key: str | None = Field(default=None, description="Bootstrap admin key.")
    key_cache_ttl_s: float = Field(
        default=5.0, ge=0, description="How long a process trusts a key lookup (revocation lag)."
    )
    rollout_guard_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often each process checks running rollouts' guards against the "
        "candidates' recorded calls.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    specs_dir: Path = Field(default=Path("specs"), description="Spec files loaded by `make run`.")
    log_level: str = "INFO"
    log_json: bool = Field(default=False, description="JSON logs instead of console lines.")

    calls: CallOptions = Field(default_factory=CallOptions)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    writer: WriterSettings = Field(default_factory=WriterSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    documents: DocumentLimits = Field(default_factory=DocumentLimits)
    bodies: BodyLimits = Field(default_factory=BodyLimits)
    files: FileLimits = Field(default_factory=FileLimits)
    web: WebSettings = Field(default_factory=WebSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, and the groups' fields under their flat environment names."""
        flat = FlatEnvSettingsSource(settings_cls)
        return init_settings, env_settings, flat, dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _group_flat_names(cls, data: Any) -> Any:
        """Values given under flat names (`max_file_bytes=...`) go into their group."""
        if not isinstance(data, dict) or not data.keys() & FLAT_NAMES.keys():
            return data
        grouped = {key: value for key, value in data.items() if key not in FLAT_NAMES}
        for name in data.keys() & FLAT_NAMES.keys():
            _place(grouped, FLAT_NAMES[name].path, data[name])
        return grouped

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with `update` applied, unvalidated like pydantic's; flat names (as in the
        environment) update their group, which is copied rather than changed."""
        if update and update.keys() & FLAT_NAMES.keys():
            update = _grouped_update(self, update)
        return super().model_copy(update=update, deep=deep)


class FlatName(NamedTuple):
    """Where a flat name's value lives: the field names from `Settings` down, and the field."""

    path: tuple[str, ...]
    field: FieldInfo


def _group_of(field: FieldInfo) -> type[Group] | None:
    annotation = field.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, Group) else None


def _flat_names(
    model: type[BaseModel], path: tuple[str, ...] = ()
) -> Iterator[tuple[str, FlatName]]:
    for name, field in model.model_fields.items():
        group = _group_of(field)
        if group is not None:
            yield from _flat_names(group, (*path, name))
        elif path:  # a top-level field's name is flat already
            env = next((m for m in field.metadata if isinstance(m, Env)), Env(name))
            if env.name is not None:
                yield env.name, FlatName((*path, name), field)


def _index_flat_names() -> dict[str, FlatName]:
    """Every group field by its flat name; two fields may not share one."""
    index: dict[str, FlatName] = {}
    for name, where in _flat_names(Settings):
        if name in index or name in Settings.model_fields:
            raise TypeError(f"settings: two fields are named {name!r} in the environment")
        index[name] = where
    return index


FLAT_NAMES = _index_flat_names()


def _place(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set `value` at `path` in nested input data, copying each group on the way as a dict."""
    *groups, leaf = path
    for name in groups:
        inner = data.get(name)
        inner = dict(inner) if isinstance(inner, (dict, BaseModel)) else {}
        data[name] = inner
        data = inner
    data[leaf] = value


def _grouped_update(model: BaseModel, update: Mapping[str, Any]) -> dict[str, Any]:
    """`update` with its flat names replaced by copies of their groups holding the values."""
    tree: dict[str, Any] = {}
    for name in update.keys() & FLAT_NAMES.keys():
        _place(tree, FLAT_NAMES[name].path, update[name])
    changed = {key: value for key, value in update.items() if key not in FLAT_NAMES}
    for name, changes in tree.items():
        changed[name] = _copied(changed.get(name, getattr(model, name)), changes)
    return changed


def _copied(group: Group, changes: dict[str, Any]) -> Group:
    """A copy of `group` with `changes`, nested groups copied in turn."""
    nested = {
        name: _copied(inner, value)
        if isinstance(value, dict) and isinstance(inner := getattr(group, name), Group)
        else value
        for name, value in changes.items()
    }
    return group.model_copy(update=nested)


class FlatEnvSettingsSource(EnvSettingsSource):
    """The groups' fields read from their flat variables, `SPECLOOM_MAX_FILE_BYTES` and all,
    parsed as pydantic-settings parses any variable (JSON for lists)."""

    def __call__(self) -> dict[str, Any]:
        """The values found, nested under their groups."""
        data: dict[str, Any] = {}
        for name, (path, field) in FLAT_NAMES.items():
            value, _, is_complex = self.get_field_value(field, name)
            value = self.prepare_field_value(name, field, value, is_complex)
            if value is not None:
                _place(data, path, value)
        return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
