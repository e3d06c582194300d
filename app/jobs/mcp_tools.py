"""MCP tools for jobs: run an agent call (or a batch) as a job, and check on it.

Their names hold an underscore, which agent names never do, so they cannot clash with the
agent tools.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import mcp_types as types
from fastapi import FastAPI
from pydantic import ValidationError

from app.core.errors import ProblemError
from app.jobs import service
from app.jobs.schemas import JobCreate, JobRead
from app.jobs.views import create_job, job_read
from app.security.store import Principal

SUBMIT = "submit_job"
STATUS = "job_status"

_JOB_SCHEMA = JobRead.model_json_schema()


def job_tools() -> list[types.Tool]:
    """The two job tools, listed beside the agents."""
    submit_schema = JobCreate.model_json_schema()
    submit_schema["properties"] = {
        "agent": {"type": "string", "description": "The agent to run."},
        **submit_schema["properties"],
    }
    submit_schema["required"] = ["agent"]
    return [
        types.Tool(
            name=SUBMIT,
            title="Run an agent as a job",
            description="Run an agent asynchronously on `input` (one object) or `inputs` (a "
            "batch); returns the job at once. Check it with job_status.",
            input_schema=submit_schema,
            output_schema=_JOB_SCHEMA,
        ),
        types.Tool(
            name=STATUS,
            title="Job status",
            description="A job's status, counts, progress and cost so far.",
            input_schema={
                "type": "object",
                "properties": {"job_id": {"type": "string", "format": "uuid"}},
                "required": ["job_id"],
            },
            output_schema=_JOB_SCHEMA,
        ),
    ]


async def call_job_tool(
    app: FastAPI,
    name: str,
    arguments: dict[str, Any],
    principal: Principal,
    request_id: str | None,
) -> types.CallToolResult:
    """Run one of the job tools; problems come back as error results."""
    try:
        async with app.state.sessionmaker() as session, session.begin():
            if name == SUBMIT:
                agent = str(arguments.get("agent", ""))
                body = JobCreate.model_validate(
                    {k: v for k, v in arguments.items() if k != "agent"}
                )
                job, _ = await create_job(
                    session,
                    runtime=app.state.runtime,
                    settings=app.state.settings,
                    principal=principal,
                    agent_name=agent,
                    body=body,
                )
            else:
                job_id = uuid.UUID(str(arguments.get("job_id", "")))
                job = await service.get_job(session, job_id, principal)
            view = (await job_read(session, job)).model_dump(mode="json")
    except ProblemError as problem:
        return _error(problem.problem(request_id))
    except (ValidationError, ValueError) as invalid:
        return _error({"title": "Invalid arguments", "status": 422, "detail": str(invalid)})
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(view))],
        structured_content=view,
    )


def _error(problem: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(problem))], is_error=True
    )
