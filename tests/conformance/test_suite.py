"""Every case of the official JSON-Schema-Test-Suite (draft 2020-12 and draft 7, vendored in
`suite/` with its licence) through the product's validator: the reference engine and, where
it answers, the compiled fast path. The cases Specloom reads differently on purpose are in
`exclusions.py`, each with its reason; an excluded case that starts passing fails too, so
the list stays exact."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.compiler.validation import SchemaValidator, compiled
from tests.conformance.exclusions import EXCLUDED

SUITE = Path(__file__).parent / "suite"
DIALECTS = {
    "draft2020-12": "https://json-schema.org/draft/2020-12/schema",
    "draft7": "http://json-schema.org/draft-07/schema#",
}


@dataclass(frozen=True)
class Case:
    dialect: str
    file: str
    group: str
    test: str
    schema: Any
    data: Any
    valid: bool

    @property
    def key(self) -> str:
        return f"{self.dialect}/{self.file}: {self.group} / {self.test}"


def _with_dialect(schema: Any, dialect: str) -> Any:
    # The suite's draft 7 files leave `$schema` out (the runner is told the draft): say it.
    if isinstance(schema, dict) and "$schema" not in schema:
        return {"$schema": DIALECTS[dialect], **schema}
    return schema


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for dialect in DIALECTS:
        for path in sorted((SUITE / dialect).glob("*.json")):
            for group in json.loads(path.read_text()):
                schema = _with_dialect(group["schema"], dialect)
                cases.extend(
                    Case(
                        dialect,
                        path.stem,
                        group["description"],
                        test["description"],
                        schema,
                        test["data"],
                        test["valid"],
                    )
                    for test in group["tests"]
                )
    return cases


CASES = load_cases()


def _verdict(case: Case) -> bool:
    schema = case.schema if isinstance(case.schema, dict) else {"allOf": [case.schema]}
    return not SchemaValidator(schema).issues(case.data)


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_case(case: Case) -> None:
    if case.key in EXCLUDED:
        with pytest.raises((AssertionError, Exception)):
            assert _verdict(case) == case.valid
        pytest.xfail(EXCLUDED[case.key])
    assert _verdict(case) == case.valid


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_fast_path_agrees(case: Case) -> None:
    """Where the compiled validator answers, it agrees with the reference on every case."""
    schema = case.schema if isinstance(case.schema, dict) else {"allOf": [case.schema]}
    fast = compiled(schema)
    if fast is None:
        return
    assert fast.is_valid(case.data) == case.valid or case.key in EXCLUDED
