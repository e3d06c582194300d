"""Running a stored input (a test case, a spec file's test) whose file fields need preparing."""

from __future__ import annotations

from typing import Any

from app.core.errors import ProblemError
from app.files.service import Documents
from app.serving.live import AgentVersion
from app.serving.pipeline import CallResult, CallServices, execute, new_record


async def execute_stored(
    documents: Documents,
    agent: AgentVersion,
    payload: Any,
    *,
    services: CallServices,
    request_id: str | None = None,
) -> CallResult:
    """`execute` after loading and preparing the input's files; a bad file is a failed call."""
    try:
        prepared, attachments = await documents.prepare_stored(agent.compiled.file_fields, payload)
    except ProblemError as problem:
        record = new_record(agent.name, agent.version, payload, request_id)
        record.status, record.error = "failed", problem.problem(request_id)
        return CallResult(record, None, problem)
    return await execute(
        agent, prepared, services=services, request_id=request_id, attachments=attachments
    )
