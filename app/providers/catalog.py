"""Model configuration: aliases mapped to provider deployments (LiteLLM's `model_list`).

```yaml
model_list:
  - model_name: fast                      # the alias specs use
    litellm_params:
      model: openai/gpt-4o-mini
      api_key: os.environ/OPENAI_API_KEY  # read from the environment, never stored
      rpm: 500
      input_cost_per_token: 0.00000015
      output_cost_per_token: 0.0000006
    model_info:
      supports_response_schema: true
      supports_vision: true               # takes images (default: litellm's model map)
```

Without a models file every alias is served by the built-in offline model.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.providers import pricing
from app.providers.offline_names import OFFLINE_PREFIX

# Providers that speak OpenAI's `response_format: json_schema` (structured outputs).
_SCHEMA_PROVIDERS = ("openai/", "azure/", "hosted_vllm/", "ollama_chat/", OFFLINE_PREFIX)


class ModelsFileError(Exception):
    """The models file cannot be read or does not follow LiteLLM's model_list format."""


class _LitellmParams(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key: str | None = None
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    timeout: float | None = Field(default=None, gt=0)
    # litellm's name for a deployment's concurrency limit.
    max_parallel_requests: int | None = Field(default=None, ge=1)
    input_cost_per_token: float | None = Field(default=None, ge=0)
    output_cost_per_token: float | None = Field(default=None, ge=0)


class _ModelEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    model_name: str = Field(min_length=1)
    litellm_params: _LitellmParams
    model_info: dict[str, Any] = Field(default_factory=dict)


class _ModelsFile(BaseModel):
    model_config = ConfigDict(extra="allow")

    model_list: list[_ModelEntry]


@dataclass(frozen=True)
class Deployment:
    """One provider model an alias can be served by."""

    alias: str
    model: str
    api_base: str | None = None
    api_key_env: str | None = field(default=None, repr=False)
    rpm: int | None = None
    tpm: int | None = None
    timeout_s: float | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    supports_response_schema: bool = True
    # Takes image content: the offline model answers from the text alone.
    supports_vision: bool = True
    # May take the plain HTTP path (providers/openai_http.py) when litellm would only pass
    # its calls through.
    lean: bool = True
    # The most tokens the model may write (the models file's model_info), else the map's.
    max_output_tokens: int | None = None
    # The most prompt tokens it takes (model_info max_input_tokens), else the map's.
    max_input_tokens: int | None = None
    # Requests sent at once; more wait in Specloom (a local server answers one at a time).
    max_concurrency: int | None = None

    @property
    def offline(self) -> bool:
        return self.model.startswith(OFFLINE_PREFIX)

    @property
    def served_name(self) -> str:
        """The model's name at its server: `model` without litellm's provider prefix
        (`openai/`, `ollama_chat/`, `hosted_vllm/`, `lm_studio/` …)."""
        return self.model.split("/", 1)[-1]

    @property
    def server_root(self) -> str | None:
        """The server's own root, where its native routes live (`/props`, `/tokenize`,
        `/api/...`): `api_base` without the OpenAI-compatible `/v1`."""
        return self.api_base.rstrip("/").removesuffix("/v1") if self.api_base else None

    @property
    def local(self) -> bool:
        """Served by a machine of one's own (a loopback or private address, `localhost`).
        Its cost is what the models file prices it at: a local proxy to a hosted provider
        still costs money, so nothing is assumed free."""
        host = urlsplit(self.api_base).hostname if self.api_base else None
        if host is None:
            return False
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:  # a name: a hosted provider, or a host we cannot tell
            return False
        return address.is_loopback or address.is_private or address.is_link_local

    def output_limit(self) -> int | None:
        """The most output tokens a request to this deployment may ask for, if known."""
        return self.max_output_tokens or pricing.output_limit(self.model)

    def context_window(self) -> int | None:
        """The most prompt tokens a request to this deployment may hold, if known."""
        if self.offline:
            return None
        return self.max_input_tokens or pricing.input_limit(self.model)

    def api_key(self) -> str | None:
        """The provider key, read from the environment at call time (never stored)."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


@dataclass(frozen=True)
class ModelCatalog:
    """Aliases → deployments; unknown names are taken as litellm model strings."""

    deployments: dict[str, tuple[Deployment, ...]]
    offline: bool

    def resolve(self, name: str) -> tuple[Deployment, ...]:
        """The deployments serving `name` (an alias, or a litellm model string)."""
        if self.offline:
            return (Deployment(alias=name, model=OFFLINE_PREFIX + name),)
        found = self.deployments.get(name)
        if found:
            return found
        return (
            Deployment(
                alias=name,
                model=name,
                supports_response_schema=_schema_ok(name),
                supports_vision=_vision_ok(name),
            ),
        )

    def aliases(self) -> list[str]:
        return sorted(self.deployments)


def offline_catalog() -> ModelCatalog:
    """Every alias served by the offline model."""
    return ModelCatalog(deployments={}, offline=True)


def load_catalog(path: Path | None, *, lean: bool = True) -> ModelCatalog:
    """Read the models file; `None` gives the offline catalog.

    `lean` False sends every call through litellm (no lean path; see providers/openai_http.py).
    """
    if path is None:
        return offline_catalog()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = _ModelsFile.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ModelsFileError(f"{path}: cannot read: {' '.join(str(exc).split())}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'/'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ModelsFileError(f"{path}: not a LiteLLM model_list: {problems}") from None
    deployments: dict[str, list[Deployment]] = {}
    for entry in parsed.model_list:
        params = entry.litellm_params
        key_env = None
        if params.api_key is not None:
            if not params.api_key.startswith("os.environ/"):
                raise ModelsFileError(
                    f"{path}: {entry.model_name}: api_key must be 'os.environ/NAME' "
                    "(keys are read from the environment, never written in files)"
                )
            key_env = params.api_key.removeprefix("os.environ/")
        supports = entry.model_info.get("supports_response_schema")
        vision = entry.model_info.get("supports_vision")
        info = entry.model_info
        output_limit = info.get("max_output_tokens")
        deployments.setdefault(entry.model_name, []).append(
            Deployment(
                alias=entry.model_name,
                model=params.model,
                api_base=params.api_base,
                api_key_env=key_env,
                rpm=params.rpm,
                tpm=params.tpm,
                timeout_s=params.timeout,
                input_cost_per_token=params.input_cost_per_token,
                output_cost_per_token=params.output_cost_per_token,
                supports_response_schema=bool(supports)
                if supports is not None
                else _schema_ok(params.model),
                supports_vision=bool(vision) if vision is not None else _vision_ok(params.model),
                lean=lean,
                max_output_tokens=output_limit if isinstance(output_limit, int) else None,
                max_input_tokens=_positive(info.get("max_input_tokens")),
                max_concurrency=_positive(info.get("max_concurrency"))
                or params.max_parallel_requests,
            )
        )
    return ModelCatalog({k: tuple(v) for k, v in deployments.items()}, offline=False)


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _schema_ok(model: str) -> bool:
    if model.startswith(_SCHEMA_PROVIDERS):
        return True
    import litellm

    try:
        return bool(litellm.supports_response_schema(model=model))
    except Exception:  # litellm raises for models missing from its bundled map
        return False


def _vision_ok(model: str) -> bool:
    if model.startswith("openai/"):
        # Read from litellm's bundled map as data, the entry litellm itself would use:
        # importing litellm here would put seconds on every start-up.
        entry = pricing.entry_for(model)
        return bool(entry and entry.get("supports_vision"))
    import litellm

    try:
        return bool(litellm.supports_vision(model=model))
    except Exception:  # litellm raises for models missing from its bundled map
        return False
