"""The built-in offline model: a litellm custom provider that answers without any network.

`register_offline_provider()` makes `litellm.acompletion(model="specloom-offline/<alias>")`
work. Answers are deterministic (same messages and schema give the same answer in every
process), always valid against the JSON Schema in `response_format`, and say plainly that
they come from the offline model (`model`, `system_fingerprint`). Spec hints travel in
`metadata={"specloom": {"examples": [...], "expectations": [...]}}`; litellm hands
`metadata` to the provider as `litellm_params["metadata"]`:

- an input equal (canonical JSON) to an example's input gets that example's output verbatim;
- an input equal to an expectation's input gets a generated output with the expectation's
  `equals` values (JSON Pointer → value) in place;
- any other input gets a generated output seeded by the SHA-256 of the canonical input.

The input is the JSON between the last `<input>` and `</input>` of the last user message
holding one (re-asks append messages after it, so they get the same, valid, answer).
"""

from __future__ import annotations

import os

# litellm fetches its cost map over the network at import unless told otherwise.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from collections.abc import Mapping, Sequence
from typing import Any

import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import ModelResponse, Usage

from app.providers.offline_answer import count_tokens, offline_answer, text_of
from app.providers.offline_names import FINGERPRINT, OFFLINE_PREFIX, PROVIDER

__all__ = ["FINGERPRINT", "OFFLINE_PREFIX", "PROVIDER", "register_offline_provider"]


def _fill(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    optional_params: Mapping[str, Any],
    litellm_params: Mapping[str, Any] | None,
    response: ModelResponse,
) -> ModelResponse:
    metadata = (litellm_params or {}).get("metadata") or {}
    hints = metadata.get("specloom") if isinstance(metadata, Mapping) else None
    text = offline_answer(messages, optional_params.get("response_format"), hints)
    prompt = sum(count_tokens(text_of(m.get("content"))) + 3 for m in messages)
    completion = count_tokens(text)
    response.choices[0].message.content = text
    response.choices[0].finish_reason = "stop"
    response.model = OFFLINE_PREFIX + model
    response.system_fingerprint = FINGERPRINT
    response.usage = Usage(  # type: ignore[attr-defined]
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
    # Zero cost, stated by the provider: litellm's cost map does not know this model.
    response._hidden_params["response_cost"] = 0.0
    _price_at_zero(response.model)
    return response


_priced: set[str] = set()


def _price_at_zero(model: str) -> None:
    """Teach litellm's cost map that `model` is free, so `litellm.completion_cost` works too."""
    if model in _priced:
        return
    litellm.register_model(
        {
            model: {
                "input_cost_per_token": 0.0,
                "output_cost_per_token": 0.0,
                "cache_creation_input_token_cost": 0.0,
                "cache_read_input_token_cost": 0.0,
                "litellm_provider": PROVIDER,
                "mode": "chat",
            }
        }
    )
    _priced.add(model)


class OfflineLLM(CustomLLM):
    """litellm's handler for `specloom-offline/<alias>`: see the module docstring."""

    def completion(
        self,
        model: str,
        messages: list[Any],
        api_base: str,
        custom_prompt_dict: dict[str, Any],
        model_response: ModelResponse,
        print_verbose: Any,
        encoding: Any,
        api_key: Any,
        logging_obj: Any,
        optional_params: dict[str, Any],
        acompletion: Any = None,
        litellm_params: dict[str, Any] | None = None,
        logger_fn: Any = None,
        headers: Any = None,
        timeout: Any = None,
        client: Any = None,
    ) -> ModelResponse:
        """Answer synchronously."""
        return _fill(model, messages, optional_params, litellm_params, model_response)

    async def acompletion(
        self,
        model: str,
        messages: list[Any],
        api_base: str,
        custom_prompt_dict: dict[str, Any],
        model_response: ModelResponse,
        print_verbose: Any,
        encoding: Any,
        api_key: Any,
        logging_obj: Any,
        optional_params: dict[str, Any],
        acompletion: Any = None,
        litellm_params: dict[str, Any] | None = None,
        logger_fn: Any = None,
        headers: Any = None,
        timeout: Any = None,  # noqa: ASYNC109 - litellm calls with this signature
        client: Any = None,
    ) -> ModelResponse:
        """Answer on the event loop: generation is CPU-only, microseconds once cached."""
        return _fill(model, messages, optional_params, litellm_params, model_response)


def register_offline_provider() -> None:
    """Register `specloom-offline` in `litellm.custom_provider_map` (once; idempotent)."""
    if any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        return
    litellm.custom_provider_map = [
        *litellm.custom_provider_map,
        {"provider": PROVIDER, "custom_handler": OfflineLLM()},
    ]
