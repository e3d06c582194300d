"""Rule coverage: which test cases exercise each rule of a version, and which rules none do.

A case exercises the rules whose texts it names (`rules` on the case): generated per-rule
cases name theirs, and people name them when they write or promote a case. A rule is also
covered when one of the version's checks names it (`rules` on the check, by number or
text): the check enforces it on every call, which says more than a case can.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.evaluation.schemas import CaseRef, Coverage, RuleCoverage
from app.models import TestCase
from app.registry import service as registry


async def rule_coverage(session: AsyncSession, spec_name: str, version: int | None) -> Coverage:
    """Every rule of `version` (default: the latest) with the cases that exercise it."""
    spec = await registry.get_spec(session, spec_name)
    row = await registry.get_version(session, spec, version or spec.latest_version)
    rules: list[str] = list(row.document.get("rules", []))
    cases = (
        await session.scalars(
            select(TestCase).where(TestCase.spec_id == spec.id).order_by(TestCase.name)
        )
    ).all()
    checks = row.document.get("checks", [])
    items = []
    for number, rule in enumerate(rules, start=1):
        refs = [CaseRef.model_validate(c) for c in cases if rule in (c.rules or [])]
        enforced = [
            c["name"] for c in checks if number in c.get("rules", []) or rule in c.get("rules", [])
        ]
        covered = bool(refs or enforced)
        items.append(
            RuleCoverage(number=number, rule=rule, covered=covered, cases=refs, checks=enforced)
        )
    return Coverage(
        spec=spec.name,
        version=row.version,
        rules=items,
        uncovered=[i.number for i in items if not i.covered],
        cases_total=len(cases),
        cases_without_rule=sum(1 for c in cases if not c.rules),
    )
