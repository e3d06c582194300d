"""`specloom matrix FILE --models a,b,c`: a spec file's suite on each model, for CI.

The file is pushed as a draft version (never published), its cost estimate printed, then
the model matrix runs: in process on the configured database and models (the same runner
as the server's), or on a running server (`--url`, `--key`). It prints one row per model
and the recommendation, and can write JUnit (one test suite per model, as `specloom test`
writes one per spec). Exit code: 0 when some model passes, 1 when none does, 2 when the
matrix could not run.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.compiler.document import SpecDocument
from app.core.errors import ProblemError
from app.core.settings import Settings
from app.evaluation.suite_cli import (
    SuiteError,
    SuiteReport,
    check_response,
    junit_xml,
    push_draft,
    report_from_run,
)

Show = Callable[[str], None]


@dataclass(frozen=True)
class MatrixOutcome:
    """A finished matrix as the API shows it, and each model's test run."""

    matrix: dict[str, Any]
    runs: dict[str, dict[str, Any]]  # model → its test run


async def matrix_in_process(
    settings: Settings,
    document: SpecDocument,
    models: list[str] | None,
    repeat: int | None,
    show: Show,
) -> MatrixOutcome:
    """Push `document` as a draft to the configured database and run its matrix here."""
    from app.core.database import database_url, make_engine, make_sessionmaker, upgrade_to_head
    from app.evaluation.matrix import read_matrix
    from app.evaluation.matrix_runner import open_matrix, run_matrix
    from app.evaluation.matrix_schemas import MatrixRequest
    from app.evaluation.runner import Evaluator
    from app.evaluation.service import read_run
    from app.models import ModelMatrix, TestRun
    from app.providers import openai_http
    from app.registry import service
    from app.registry.files import push_document
    from app.serving.assembly import standalone_context
    from app.serving.live import LiveAgents

    url = database_url(settings)
    await asyncio.to_thread(upgrade_to_head, url)
    engine = make_engine(url)
    calls = standalone_context(settings)
    try:
        sessions = make_sessionmaker(engine)
        evaluator = Evaluator(
            sessions, live=LiveAgents(sessions), calls=calls, config=settings.evaluation
        )
        async with sessions() as session, session.begin():
            pushed = await push_document(session, document, author="cli", publish=False)
            spec = await service.get_spec(session, document.name)
            body = MatrixRequest(models=models, repeat=repeat)
            matrix, cost = await open_matrix(
                session, spec=spec, number=pushed.version, body=body, evaluator=evaluator
            )
        show(estimate_line(cost.model_dump(mode="json")))
        await run_matrix(evaluator, matrix.id)
        async with sessions() as session:
            stored = await session.get_one(ModelMatrix, matrix.id)
            read = (await read_matrix(session, stored, calls.services.catalog)).model_dump(
                mode="json"
            )
            runs = {}
            for row in read["rows"]:
                run = await session.get_one(TestRun, row["test_run"])
                runs[row["model"]] = (await read_run(session, run)).model_dump(mode="json")
    finally:
        await openai_http.close()  # this loop's pooled provider connections
        await engine.dispose()
    return MatrixOutcome(read, runs)


async def matrix_on_server(
    url: str,
    key: str,
    document: SpecDocument,
    models: list[str] | None,
    repeat: int | None,
    show: Show,
    *,
    timeout_s: float,
) -> MatrixOutcome:
    """Push `document` as a draft to a running server and await its matrix there."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=30) as http:
        version, _ = await push_draft(http, document)
        body: dict[str, Any] = {"models": models, "repeat": repeat}
        started = await http.post(
            f"/api/specs/{document.name}/versions/{version}/model-matrix",
            json={k: v for k, v in body.items() if v is not None},
        )
        check_response(started, "start the model matrix")
        show(estimate_line(started.json()["estimate"]))
        where = f"/api/specs/{document.name}/model-matrix/{started.json()['id']}"
        deadline = time.monotonic() + timeout_s
        while True:
            response = await http.get(where)
            check_response(response, "read the model matrix")
            matrix: dict[str, Any] = response.json()
            if matrix["status"] in ("finished", "error"):
                break
            if time.monotonic() > deadline:
                raise SuiteError(f"the model matrix did not finish within {timeout_s:.0f} s")
            await asyncio.sleep(0.25)
        runs = {}
        for row in matrix["rows"]:
            run = await http.get(f"/api/test-runs/{row['test_run']}")
            check_response(run, "read a model's test run")
            runs[row["model"]] = run.json()
    return MatrixOutcome(matrix, runs)


def estimate_line(estimate: dict[str, Any]) -> str:
    """What the matrix should cost, printed before it runs."""
    per_model = ", ".join(
        f"{m['model']} {_usd(m['cost_usd'])}" for m in estimate["models"]
    )  # fmt: skip
    return (
        f"estimate: {estimate['calls']} call(s), about {_usd(estimate['cost_usd'])} ({per_model})"
    )


def _usd(value: float | None) -> str:
    return "unpriced" if value is None else f"${value:.6f}"


def _number(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


COLUMNS = ("model", "pass", "wilson", "verdict", "invalid", "reasks", "$/valid call", "p50 ms")


def table(matrix: dict[str, Any]) -> list[str]:
    """The matrix as a text table, then the recommendation."""
    lines = [[*COLUMNS, "p95 ms"]]
    for row in matrix["rows"]:
        verdict = "PASS" if row["passed"] else "FAIL" if row["passed"] is False else row["status"]
        lines.append(
            [
                row["model"],
                f"{row['pass_rate']:.0%}",
                f"{row['wilson_lower']:.2f}",
                verdict,
                f"{row['invalid_rate']:.0%}",
                f"{row['reasks_per_call']:.2f}",
                _number(row["cost_usd_per_call"], ".8f"),
                _number(row["p50_latency_ms"], ".0f"),
                _number(row["p95_latency_ms"], ".0f"),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines
    ]
    recommended = matrix["recommended"] or "none (no model passed the suite)"
    text.append(f"recommended: {recommended}")
    if matrix.get("error"):
        text.append(f"ERROR {matrix['error']}")
    return [line.rstrip() for line in text]


def reports(outcome: MatrixOutcome, where: str) -> list[SuiteReport]:
    """One suite report per model (for JUnit): its cases' pass rates on that model."""
    matrix = outcome.matrix
    return [
        report_from_run(
            outcome.runs[row["model"]],
            spec=f"{matrix['spec']}@{row['model']}",
            version=matrix["version"],
            where=where,
            seconds=sum(r["latency_ms"] for c in outcome.runs[row["model"]]["cases"]
                        for r in c["runs"]) / 1000,
        )
        for row in matrix["rows"]
    ]  # fmt: skip


def matrix_command(
    settings: Settings,
    file: Path,
    *,
    models: str | None,
    repeat: int | None,
    junit: Path | None,
    url: str | None,
    key: str | None,
    timeout_s: float,
) -> int:
    """`specloom matrix`: 0 when some model passes, 1 when none does, 2 when it could not run."""
    from app.registry.files import SpecFileError, load_spec_file

    try:
        document = load_spec_file(file, settings.documents)
    except SpecFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    if url and not key:
        print("--url needs --key (or SPECLOOM_KEY): an admin key of that server", file=sys.stderr)
        return 2
    names = [m.strip() for m in models.split(",") if m.strip()] if models else None
    try:
        outcome = asyncio.run(_run(settings, document, names, repeat, url, key, timeout_s))
    except (SuiteError, httpx.HTTPError) as exc:
        print(f"could not run the model matrix: {exc}", file=sys.stderr)
        return 2
    except ProblemError as exc:  # refused in process: unknown model, no cases, budget spent
        issues = "; ".join(f"{i.pointer}: {i.message}" for i in exc.issues or [])
        print(f"could not run the model matrix: {exc.detail} {issues}".rstrip(), file=sys.stderr)
        return 2
    print("\n".join(table(outcome.matrix)))
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_bytes(junit_xml(reports(outcome, url or "in-process")))
        print(f"JUnit report: {junit}")
    if outcome.matrix["status"] == "error":
        return 2
    return 0 if outcome.matrix["recommended"] else 1


async def _run(
    settings: Settings,
    document: SpecDocument,
    models: list[str] | None,
    repeat: int | None,
    url: str | None,
    key: str | None,
    timeout_s: float,
) -> MatrixOutcome:
    if url and key:
        return await matrix_on_server(
            url, key, document, models, repeat, print, timeout_s=timeout_s
        )
    return await matrix_in_process(settings, document, models, repeat, print)
