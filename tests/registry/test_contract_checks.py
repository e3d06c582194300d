"""The contract diff counts checks: a new or stricter one (or grounding) may break callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from app.registry.contract import classify_contract
from tests.factories import add_version, create_spec, make_document

BASE = make_document()
IN: dict[str, Any] = BASE["input_schema"]
OUT: dict[str, Any] = BASE["output_schema"]
URGENT = {"name": "u", "assert": "output.priority != 'urgent'", "message": "never urgent"}


def grounded(marker: Any) -> dict[str, Any]:
    summary = {**OUT["properties"]["summary"], "x-grounded": marker}
    return {**OUT, "properties": {**OUT["properties"], "summary": summary}}


@dataclass(frozen=True)
class Case:
    name: str
    old: list[dict[str, Any]]
    new: list[dict[str, Any]]
    kinds: list[str]
    may_break: bool
    old_out: dict[str, Any] = field(default_factory=lambda: OUT)
    new_out: dict[str, Any] = field(default_factory=lambda: OUT)


CASES = [
    Case("unchanged", [URGENT], [URGENT], [], False),
    Case("new check", [], [URGENT], ["check_added"], True),
    Case("new warning", [], [{**URGENT, "severity": "warn"}], ["check_added"], False),
    Case(
        "expression changed",
        [URGENT],
        [{**URGENT, "assert": "output.priority != 'low'"}],
        ["check_changed"],
        True,
    ),
    Case(
        "warning made an error",
        [{**URGENT, "severity": "warn"}],
        [URGENT],
        ["check_stricter"],
        True,
    ),
    Case(
        "error made a warning", [URGENT], [{**URGENT, "severity": "warn"}], ["check_relaxed"], True
    ),
    Case("check removed", [URGENT], [], ["check_removed"], True),
    Case("message reworded", [URGENT], [{**URGENT, "message": "calm down"}], [], False),
    Case("grounding added", [], [], ["grounding_added"], True, new_out=grounded(True)),
    Case(
        "grounding tightened",
        [],
        [],
        ["grounding_stricter"],
        True,
        old_out=grounded({"min_similarity": 0.8}),
        new_out=grounded(True),
    ),
    Case(
        "grounding loosened",
        [],
        [],
        [],
        False,
        old_out=grounded(True),
        new_out=grounded({"min_similarity": 0.8}),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_check_changes_are_classified(case: Case) -> None:
    diff = classify_contract(
        IN, case.old_out, IN, case.new_out, old_checks=case.old, new_checks=case.new
    )
    assert [c.kind for c in diff.changes] == case.kinds
    assert diff.may_break is case.may_break
    assert diff.breaking is case.may_break  # may_break needs confirmation too


async def test_publishing_a_new_check_needs_confirmation(client: httpx.AsyncClient) -> None:
    await create_spec(client, "triage")
    assert (await client.post("/api/specs/triage/publish", json={"version": 1})).status_code == 200
    await add_version(client, "triage", 1, checks=[URGENT])

    refused = await client.post("/api/specs/triage/publish", json={"version": 2})

    assert refused.status_code == 409, refused.text
    [change] = refused.json()["breaking_changes"]
    assert (change["kind"], change["pointer"], change["verdict"]) == (
        "check_added",
        "/checks/0",
        "may_break",
    )
