"""Generated test cases: from the input schema, from the examples, and one per rule written
by the configured model. Stored with origin `generated` (editable, deletable like any case);
a case the offline model wrote is marked as a placeholder.

Generating again refreshes the generated cases of the same name; a case of that name that a
person wrote, a spec file holds or an execution was promoted to is never overwritten.
Services take the session first, flush when they need ids, and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.compiler.document import SpecDocument
from app.compiler.file_fields import without_file_fields
from app.core.errors import ProblemError
from app.evaluation.rule_cases import CaseWriterFailed, rule_cases
from app.evaluation.schema_cases import DraftCase, example_cases, schema_cases
from app.evaluation.schemas import ALL_KINDS, GenerationKind
from app.models import TestCase
from app.registry import service as registry
from app.serving.context import CallContext


class CaseGenerationFailed(ProblemError):
    status = 502
    slug = "case-generation-failed"
    title = "The model wrote no valid test case"


async def generate_cases(
    session: AsyncSession,
    spec_name: str,
    version_number: int | None,
    *,
    calls: CallContext,
    kinds: Sequence[GenerationKind] = ALL_KINDS,
) -> list[TestCase]:
    """Generate and store cases for a version (default: the latest); returns the cases
    created or refreshed, by name."""
    spec = await registry.get_spec(session, spec_name)
    version = await registry.get_version(session, spec, version_number or spec.latest_version)
    document = SpecDocument.model_validate(version.document)
    drafts: list[DraftCase] = []
    if "schema" in kinds:
        drafts += schema_cases(without_file_fields(document.input_schema))
    if "examples" in kinds:
        drafts += example_cases(document)
    if "rules" in kinds:
        try:
            drafts += await rule_cases(document, calls=calls)
        except CaseWriterFailed as exc:
            raise CaseGenerationFailed(str(exc)) from None
    existing = {
        c.name: c
        for c in (await session.scalars(select(TestCase).where(TestCase.spec_id == spec.id))).all()
    }
    stored: list[TestCase] = []
    for draft in {d.name: d for d in drafts}.values():
        case = existing.get(draft.name)
        if case is not None and case.origin != "generated":
            continue
        if case is None:
            case = TestCase(spec_id=spec.id, name=draft.name, origin="generated")
            session.add(case)
        case.input = draft.input
        case.expect = draft.expect
        case.rules = draft.rules
        case.placeholder = draft.placeholder
        case.repeat = 1
        case.min_pass_rate = 1.0
        case.updated_at = datetime.now(UTC)
        stored.append(case)
    await session.flush()
    for case in stored:
        await session.refresh(case)
    return sorted(stored, key=lambda c: c.name)
