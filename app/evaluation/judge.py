"""LLM-as-judge: a `judge` rubric graded by the configured judge model.

The judge is itself an agent (a fixed spec document) run through the same call pipeline,
so it gets routing, repair and a schema-valid verdict; its model is the one configured as
`SPECLOOM_JUDGE_MODEL`. Without one, rubrics stay "not evaluated" and count as failed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.evaluation.assertions import resolve
from app.serving.call import call
from app.serving.context import CallContext
from app.serving.live import AgentVersion, agent_version

JUDGE_DOCUMENT: dict[str, Any] = {
    "name": "specloom-judge",
    "title": "Grade a value against a rubric",
    "description": "Decide whether the value satisfies the rubric; explain briefly why.",
    "input_schema": {
        "type": "object",
        "properties": {"rubric": {"type": "string"}, "value": {}},
        "required": ["rubric", "value"],
    },
    "rules": [
        "Answer pass only when the value clearly satisfies every part of the rubric.",
        "Give the reasoning in one or two sentences.",
    ],
    "output_schema": {
        "type": "object",
        "properties": {
            "verdict": {"enum": ["pass", "fail"]},
            "reasoning": {"type": "string", "maxLength": 1000},
        },
        "required": ["verdict", "reasoning"],
        "additionalProperties": False,
    },
    "model": {"temperature": 0},
}


def judge_agent() -> AgentVersion:
    """The judge, compiled once per process by content hash."""
    digest = hashlib.sha256(json.dumps(JUDGE_DOCUMENT, sort_keys=True).encode()).hexdigest()
    return agent_version("specloom-judge", 1, JUDGE_DOCUMENT, digest)


async def grade(
    checks: list[dict[str, Any]],
    output: dict[str, Any] | None,
    *,
    model: str | None,
    calls: CallContext,
) -> list[dict[str, Any]]:
    """Replace every not-evaluated judge result by the judge model's verdict."""
    if model is None or output is None:
        return checks
    graded = []
    for check in checks:
        rubric = check["assertion"].get("judge")
        if rubric is None or check.get("evaluated", True):
            graded.append(check)
            continue
        value = resolve(output, check["assertion"].get("path", ""))
        result = await call(
            calls,
            judge_agent(),
            {"rubric": rubric, "value": value},
            source="judge",
            model_override=model,
        )
        if result.output is None:
            detail = result.problem.detail if result.problem else "no verdict"
            graded.append(check | {"message": f"the judge gave no verdict: {detail}"})
            continue
        verdict, reasoning = result.output["verdict"], result.output["reasoning"]
        graded.append(
            check
            | {
                "passed": verdict == "pass",
                "actual": value,
                "message": reasoning,
                "evaluated": True,
                "judge": {"model": model, "verdict": verdict, "reasoning": reasoning},
            }
        )
    return graded
