"""Test cases: kept per spec across versions, written by the API or synced from spec files.

Services take the session first, flush when they need ids, and never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.compiler.assertion_paths import assertion_issues
from app.compiler.file_fields import reference_schema
from app.compiler.validation import SchemaValidator
from app.core.errors import Conflict, InvalidInput, Issue, NotFound
from app.core.setting_groups import FileLimits
from app.evaluation.assertions import validate_patterns
from app.evaluation.schemas import CaseOrigin, CaseWrite
from app.files.service import store_input_files
from app.jsonschema import engine
from app.models import Execution, Spec, SpecVersion, TestCase
from app.registry.file_cases import stored_assertions


class CaseNotFound(NotFound):
    slug = "test-case-not-found"
    title = "Test case not found"


class CaseExists(Conflict):
    slug = "test-case-exists"
    title = "Test case already exists"


class CaseInvalid(InvalidInput):
    slug = "invalid-test-case"
    title = "Invalid test case"


async def latest_document(session: AsyncSession, spec: Spec) -> dict[str, Any]:
    """The document of the spec's latest version."""
    document = await session.scalar(
        select(SpecVersion.document).where(
            SpecVersion.spec_id == spec.id, SpecVersion.version == spec.latest_version
        )
    )
    return dict(document or {})


async def latest_input_schema(session: AsyncSession, spec: Spec) -> dict[str, Any]:
    """The input schema of the spec's latest version."""
    schema: dict[str, Any] = (await latest_document(session, spec)).get("input_schema", {})
    return schema


async def check_case(
    session: AsyncSession, spec: Spec, body: CaseWrite, *, limits: FileLimits
) -> None:
    """422 with pointers into the body unless the input fits the spec's latest input schema,
    every assertion names a path (and values) its output schema allows, every regex of the
    assertions compiles and every named rule is one of the spec's."""
    document = await latest_document(session, spec)
    schema = document.get("input_schema", {})
    # Files: stored once by hash, the case keeps references to them.
    body.input = await store_input_files(session, schema, body.input, limits)
    inputs = SchemaValidator(reference_schema(schema))
    issues = [Issue("/input" + i.pointer, i.message) for i in inputs.issues(body.input)]
    issues += [Issue(f"/expect/{n}/matches", m) for n, m in validate_patterns(body.expect)]
    output = engine.validator(document.get("output_schema", {}))
    issues += [
        Issue("/expect" + i.pointer, i.message) for i in assertion_issues(output, body.expect)
    ]
    known = set(document.get("rules", []))
    issues += [
        Issue(f"/rules/{n}", "not a rule of the spec's latest version")
        for n, rule in enumerate(body.rules)
        if rule not in known
    ]
    if issues:
        raise CaseInvalid(f"the test case has {len(issues)} problem(s)", issues=issues)


async def list_cases(session: AsyncSession, spec: Spec) -> Sequence[TestCase]:
    """Every case of a spec, by name."""
    query = select(TestCase).where(TestCase.spec_id == spec.id).order_by(TestCase.name)
    return (await session.scalars(query)).all()


async def get_case(session: AsyncSession, spec: Spec, case_id: uuid.UUID) -> TestCase:
    """One case of the spec, or 404."""
    case = await session.scalar(
        select(TestCase).where(TestCase.spec_id == spec.id, TestCase.id == case_id)
    )
    if case is None:
        raise CaseNotFound(f"spec {spec.name!r} has no test case {case_id}")
    return case


async def create_case(
    session: AsyncSession,
    *,
    spec: Spec,
    body: CaseWrite,
    limits: FileLimits,
    origin: CaseOrigin = "manual",
) -> TestCase:
    """Add a case; 409 when the spec already has one of that name. A case naming the
    execution it was promoted from has origin `promoted`."""
    await check_case(session, spec, body, limits=limits)
    await _ensure_free(session, spec, body.name, None)
    placeholder = False
    if body.execution_id is not None:
        # An offline answer's values are placeholders, and stay marked as such in the case.
        placeholder = await _check_promoted_from(session, spec, body.execution_id)
        origin = "promoted"
    case = TestCase(
        spec_id=spec.id,
        name=body.name,
        input=body.input,
        expect=stored_assertions(body.expect),
        repeat=body.repeat,
        min_pass_rate=body.min_pass_rate,
        gate=body.gate,
        origin=origin,
        rules=list(dict.fromkeys(body.rules)),
        execution_id=body.execution_id,
        placeholder=placeholder,
    )
    session.add(case)
    await session.flush()
    await session.refresh(case)
    return case


async def update_case(
    session: AsyncSession, *, spec: Spec, case: TestCase, body: CaseWrite, limits: FileLimits
) -> TestCase:
    """Replace a case's content; its origin stays what it was."""
    await check_case(session, spec, body, limits=limits)
    await _ensure_free(session, spec, body.name, case.id)
    case.name = body.name
    case.input = body.input
    case.expect = stored_assertions(body.expect)
    case.repeat = body.repeat
    case.min_pass_rate = body.min_pass_rate
    case.gate = body.gate
    case.rules = list(dict.fromkeys(body.rules))
    case.updated_at = datetime.now(UTC)
    await session.flush()
    return case


async def delete_case(session: AsyncSession, case: TestCase) -> None:
    """Remove a case (its past results keep their case name)."""
    await session.delete(case)
    await session.flush()


async def _check_promoted_from(session: AsyncSession, spec: Spec, execution_id: uuid.UUID) -> bool:
    """A case says it was promoted from an execution only if that is one of the spec's;
    whether the offline model answered it."""
    found = (
        await session.execute(
            select(Execution.agent, Execution.offline).where(Execution.id == execution_id)
        )
    ).first()
    if found is None or found.agent != spec.name:
        raise CaseInvalid(
            "the test case names an execution it was not promoted from",
            issues=[Issue("/execution_id", f"not an execution of {spec.name!r}")],
        )
    return bool(found.offline)


async def _ensure_free(
    session: AsyncSession, spec: Spec, name: str, own_id: uuid.UUID | None
) -> None:
    other = await session.scalar(
        select(TestCase.id).where(TestCase.spec_id == spec.id, TestCase.name == name)
    )
    if other is not None and other != own_id:
        raise CaseExists(f"spec {spec.name!r} already has a test case named {name!r}")
