"""Two versions side by side: rules, schemas, model, compiled prompt, and every change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.compiler import compile_spec
from app.compiler.document import SpecDocument
from app.core.database import SessionDep
from app.registry import service
from app.registry.diff import diff_documents
from app.web.deps import UserDep, page, render

router = APIRouter(prefix="/ui", include_in_schema=False)


def _side(document: dict[str, Any], digest: str) -> dict[str, Any]:
    compiled = compile_spec(SpecDocument.model_validate(document), digest).public()
    return {
        "rules": document.get("rules") or [],
        "input_schema": document.get("input_schema"),
        "output_schema": document.get("output_schema"),
        "model": document.get("model"),
        "prompt": compiled["messages"][0]["content"],
    }


@router.get("/agents/{name}/diff", dependencies=[page("viewer")])
async def diff_page(
    request: Request,
    name: str,
    user: UserDep,
    session: SessionDep,
    from_version: Annotated[int | None, Query(alias="from", ge=1, le=2**31 - 1)] = None,
    to_version: Annotated[int | None, Query(alias="to", ge=1, le=2**31 - 1)] = None,
) -> Response:
    """Side-by-side diff of two versions, with the contract classification."""
    spec = await service.get_spec(session, name)
    to_number = to_version or spec.latest_version
    from_number = from_version or max(to_number - 1, 1)
    before = await service.get_version(session, spec, from_number)
    after = await service.get_version(session, spec, to_number)
    changes = diff_documents(before.document, after.document)
    old, new = (
        _side(before.document, before.content_hash),
        _side(after.document, after.content_hash),
    )
    return render(
        request,
        "ui/diff.html",
        {
            "spec": spec,
            "agent_tabs": "versions",
            "before": before,
            "after": after,
            "old": old,
            "new": new,
            "removed_rules": [r for r in old["rules"] if r not in new["rules"]],
            "added_rules": [r for r in new["rules"] if r not in old["rules"]],
            "changes": changes,
            "contract": service.version_contract(before, after),
        },
    )
