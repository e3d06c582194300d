"""What a model matrix should cost, told before it starts.

One attempt per call (re-asks come on top), the prompt counted roughly (about four
characters a token) and each answer as long as the spec's example outputs (a few hundred
tokens without examples), priced by the models file or, failing that, litellm's map.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.evaluation.matrix_schemas import Estimate, ModelEstimate
from app.providers import pricing, tokens
from app.providers.catalog import Deployment, ModelCatalog
from app.serving.live import AgentVersion

# Tokens of an answer when the spec shows none.
DEFAULT_ANSWER_TOKENS = 200


def estimate(
    agent: AgentVersion,
    cases: Sequence[dict[str, Any]],
    models: Sequence[str],
    catalog: ModelCatalog,
    repeat: int | None = None,
) -> Estimate:
    """The matrix's expected calls and cost per model (`cases`: input and repeat each)."""
    answer = _answer_tokens(agent)
    work = [
        (repeat or int(case.get("repeat", 1)), tokens.rough(agent.compiled.messages(case["input"])))
        for case in cases
    ]
    calls = sum(times for times, _ in work)
    rows: list[ModelEstimate] = []
    for model in models:
        price = _price(catalog.resolve(model)[0])
        cost = None
        if price is not None:
            cost = sum(times * price.cost(prompt, answer) for times, prompt in work)
        rows.append(ModelEstimate(model=model, calls=calls, cost_usd=cost))
    return Estimate(
        calls=calls * len(models),
        cost_usd=sum(r.cost_usd or 0.0 for r in rows),
        models=rows,
        unpriced=[r.model for r in rows if r.cost_usd is None],
    )


def _answer_tokens(agent: AgentVersion) -> int:
    outputs = [json.dumps(e.output) for e in agent.document.examples]
    if not outputs:
        return DEFAULT_ANSWER_TOKENS
    return max(1, sum(len(text) // 4 for text in outputs) // len(outputs))


def _price(deployment: Deployment) -> pricing.PlainPrice | None:
    """The models file's price, else the map's plain price (None: unknown)."""
    if deployment.offline:
        return pricing.FREE
    if deployment.input_cost_per_token is not None or deployment.output_cost_per_token is not None:
        return pricing.PlainPrice(
            deployment.input_cost_per_token or 0.0,
            deployment.input_cost_per_token or 0.0,
            deployment.output_cost_per_token or 0.0,
        )
    return pricing.plain_price(deployment.model)
