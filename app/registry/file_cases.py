"""A spec file's `tests:`, kept as the spec's test cases whenever a version is saved."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.compiler.document import Assertion, SpecTest
from app.models import Spec, TestCase


def stored_assertions(expect: Sequence[Assertion]) -> list[Any]:
    """Assertions as stored: exactly the keys their author wrote."""
    return [a.model_dump(mode="json", exclude_unset=True) for a in expect]


async def sync_file_cases(
    session: AsyncSession, spec: Spec, tests: list[SpecTest], rules: list[str] | None = None
) -> int:
    """Upsert the `tests:` of a version's document by name, with origin 'file'."""
    if not tests:
        return 0
    rows = [
        {
            "spec_id": spec.id,
            "name": t.name,
            "input": t.input,
            "expect": stored_assertions(t.expect),
            "repeat": t.repeat,
            "min_pass_rate": t.min_pass_rate,
            "gate": t.gate,
            "origin": "file",
            "rules": t.rule_texts(rules or []),
        }
        for t in {t.name: t for t in tests}.values()
    ]
    statement = insert(TestCase).values(rows)
    statement = statement.on_conflict_do_update(
        constraint="uq_test_case_spec_id_name",
        set_={
            "input": statement.excluded.input,
            "expect": statement.excluded.expect,
            "repeat": statement.excluded.repeat,
            "min_pass_rate": statement.excluded.min_pass_rate,
            "gate": statement.excluded.gate,
            "origin": "file",
            "rules": statement.excluded.rules,
            "updated_at": func.clock_timestamp(),
        },
    )
    await session.execute(statement)
    return len(rows)
