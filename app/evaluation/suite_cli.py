"""`specloom test FILE…`: run a spec file's suite for CI, print per-case results, write JUnit.

In process (default): the file is pushed to the configured database (embedded unless
SPECLOOM_DATABASE_URL is set) as a draft version, never published, and the spec's cases
(the file's `tests:` plus the cases stored for it) run through the call pipeline on the
configured models. Against a server (`--url`, `--key`): the file is pushed as a draft
version through the management API and the server's test run of it is awaited.
"""

from __future__ import annotations

import asyncio
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.compiler.document import SpecDocument
from app.core.fastjson import canonical_json
from app.core.settings import Settings


@dataclass(frozen=True)
class CaseReport:
    name: str
    passed: bool
    passes: int
    attempts: int
    min_pass_rate: float
    seconds: float
    failures: list[str] = field(default_factory=list)

    @property
    def pass_rate(self) -> float:
        return self.passes / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class SuiteReport:
    spec: str
    version: int
    where: str
    cases: list[CaseReport]
    seconds: float
    error: str | None = None
    offline: bool = False  # answered by the offline model: placeholders, not evidence

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.cases)


class SuiteError(Exception):
    """The suite could not be run (server refused the push, run ended in error…)."""


def failure_lines(assertions: list[Any], error: str | None) -> list[str]:
    """Human lines for the failed checks of one attempt."""
    lines = [f"error: {error}"] if error else []
    for check in assertions:
        if not check.get("passed"):
            what = canonical_json(check.get("assertion"))
            lines.append(f"{what}: {check.get('message') or 'failed'}")
    return lines


async def run_in_process(settings: Settings, document: SpecDocument) -> SuiteReport:
    """Push `document` as a draft version to the configured database and run its suite."""
    from app.core.database import database_url, make_engine, make_sessionmaker, upgrade_to_head
    from app.evaluation.inline import run_suite_attempts
    from app.registry import service
    from app.registry.files import push_document
    from app.serving.assembly import standalone_context

    started = time.monotonic()
    url = database_url(settings)
    await asyncio.to_thread(upgrade_to_head, url)
    engine = make_engine(url)
    calls = standalone_context(settings)
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            pushed = await push_document(session, document, author="cli", publish=False)
        async with sessions() as session:
            spec = await service.get_spec(session, document.name)
            version = await service.get_version(session, spec, pushed.version)
            verdict, attempts = await run_suite_attempts(
                session,
                spec=spec,
                version=version,
                calls=calls,
                concurrency=settings.evaluation.concurrency,
                judge_model=settings.evaluation.judge_model,
            )
    finally:
        await engine.dispose()
    cases = []
    for case in verdict.cases:
        mine = [a for a in attempts if a.case_name == case.name]
        failures = [
            line for a in mine if not a.passed for line in failure_lines(a.assertions, a.error)
        ]
        cases.append(
            CaseReport(
                name=case.name,
                passed=case.passed,
                passes=case.passes,
                attempts=case.attempts,
                min_pass_rate=case.min_pass_rate,
                seconds=sum(a.latency_ms for a in mine) / 1000,
                failures=list(dict.fromkeys(failures)),
            )
        )
    return SuiteReport(
        document.name,
        pushed.version,
        "in-process",
        cases,
        time.monotonic() - started,
        offline=any(a.offline for a in attempts),
    )


async def run_against_server(
    url: str, key: str, document: SpecDocument, *, timeout_s: float = 600.0
) -> SuiteReport:
    """Push `document` as a draft version to a running server and await its test run."""
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=30) as http:
        version, run_id = await push_draft(http, document)
        if run_id is None:
            started_run = await http.post(
                f"/api/specs/{document.name}/versions/{version}/test-runs"
            )
            check_response(started_run, "start the test run")
            run_id = started_run.json()["id"]
        deadline = time.monotonic() + timeout_s
        while True:
            response = await http.get(f"/api/test-runs/{run_id}")
            check_response(response, "read the test run")
            run: dict[str, Any] = response.json()
            if run["status"] in ("passed", "failed", "error"):
                break
            if time.monotonic() > deadline:
                raise SuiteError(f"test run {run_id} did not finish within {timeout_s:.0f} s")
            await asyncio.sleep(0.25)
    return report_from_run(
        run, spec=document.name, version=version, where=url, seconds=time.monotonic() - started
    )


def report_from_run(
    run: dict[str, Any], *, spec: str, version: int, where: str, seconds: float
) -> SuiteReport:
    """A test run as the API shows it (`GET /api/test-runs/{id}`), as a suite report."""
    cases = []
    for case in run["cases"]:
        attempts = case["runs"]
        failures = [
            line
            for a in attempts
            if not a["passed"]
            for line in failure_lines(a["assertions"], (a.get("error") or {}).get("detail"))
        ]
        cases.append(
            CaseReport(
                name=case["name"],
                passed=case["passed"],
                passes=sum(1 for a in attempts if a["passed"]),
                attempts=case["attempts"],
                min_pass_rate=case["min_pass_rate"],
                seconds=sum(a["latency_ms"] for a in attempts) / 1000,
                failures=list(dict.fromkeys(failures)),
            )
        )
    return SuiteReport(
        spec,
        version,
        where,
        cases,
        seconds,
        error=run.get("error") if run["status"] == "error" else None,
        offline=bool(run.get("offline")),
    )


async def push_draft(http: httpx.AsyncClient, document: SpecDocument) -> tuple[int, str | None]:
    """Create the spec or a new version (unchanged content: the latest); never publish.
    Returns the version and the test run the server started for it, if any."""
    body = document.canonical()
    found = await http.get(f"/api/specs/{document.name}")
    if found.status_code == 404:
        created = await http.post("/api/specs", json={"document": body, "message": "specloom test"})
        check_response(created, "create the spec")
        return 1, created.headers.get("X-Specloom-Test-Run")
    check_response(found, "read the spec")
    latest = found.json()["latest_version"]
    current = await http.get(f"/api/specs/{document.name}/versions/{latest}")
    check_response(current, "read the latest version")
    if canonical_json(current.json()["document"]) == canonical_json(body):
        return int(latest), None
    saved = await http.post(
        f"/api/specs/{document.name}/versions",
        json={"document": body, "base_version": latest, "message": "specloom test"},
    )
    check_response(saved, "push the version")
    return int(saved.json()["version"]), saved.headers.get("X-Specloom-Test-Run")


def check_response(response: httpx.Response, doing: str) -> None:
    if response.is_success:
        return
    try:
        detail = response.json().get("detail") or response.text
    except ValueError:
        detail = response.text
    raise SuiteError(f"could not {doing}: HTTP {response.status_code}: {detail}")


def render(report: SuiteReport) -> list[str]:
    """The lines `specloom test` prints for one suite."""
    lines = [f"{report.spec} version {report.version} ({report.where})"]
    for case in report.cases:
        mark = "PASS" if case.passed else "FAIL"
        rate = (
            f"{case.passes}/{case.attempts} ({case.pass_rate:.0%}, needs {case.min_pass_rate:.0%})"
        )
        lines.append(f"  {mark}  {case.name}  {rate}")
        lines += [f"        {failure}" for failure in case.failures[:5]]
    if report.error:
        lines.append(f"  ERROR {report.error}")
    if report.offline:
        lines.append(
            "  NOTE  answered by the offline model (no model is configured): its answers are "
            "placeholders, so this result is no evidence that the rules are followed"
        )
    failed = sum(1 for c in report.cases if not c.passed)
    verdict = "passed" if report.passed else "FAILED"
    lines.append(
        f"{report.spec}: {verdict}: {len(report.cases) - failed} of {len(report.cases)} "
        f"case(s) passed in {report.seconds:.2f} s"
    )
    return lines


def junit_xml(reports: Sequence[SuiteReport]) -> bytes:
    """A JUnit XML document: one <testsuite> per spec, one <testcase> per case."""
    root = ET.Element("testsuites", name="specloom")
    total = failures = 0
    for report in reports:
        failed = [c for c in report.cases if not c.passed]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=report.spec,
            tests=str(len(report.cases)),
            failures=str(len(failed)),
            errors="1" if report.error else "0",
            time=f"{report.seconds:.3f}",
        )
        ET.SubElement(
            ET.SubElement(suite, "properties"),
            "property",
            name="version",
            value=str(report.version),
        )
        for case in report.cases:
            element = ET.SubElement(
                suite, "testcase", classname=report.spec, name=case.name, time=f"{case.seconds:.3f}"
            )
            if not case.passed:
                failure = ET.SubElement(
                    element,
                    "failure",
                    message=f"pass rate {case.pass_rate:.2f} below {case.min_pass_rate:.2f} "
                    f"({case.passes}/{case.attempts})",
                    type="PassRateBelowMinimum",
                )
                failure.text = "\n".join(case.failures)
        if report.error:
            ET.SubElement(suite, "error", message=report.error)
        total += len(report.cases)
        failures += len(failed)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def test_command(
    settings: Settings,
    files: Sequence[Path],
    *,
    junit: Path | None,
    url: str | None,
    key: str | None,
    timeout_s: float,
) -> int:
    """`specloom test`: 0 when every suite passed, 1 when one failed, 2 when one could not
    run (bad file, server refused)."""
    from app.registry.files import SpecFileError, load_spec_file

    try:
        documents = [load_spec_file(path, settings.documents) for path in files]
    except SpecFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    if url and not key:
        print("--url needs --key (or SPECLOOM_KEY): an admin key of that server", file=sys.stderr)
        return 2
    reports = asyncio.run(_run_all(settings, documents, url=url, key=key, timeout_s=timeout_s))
    code = 0
    for report in reports:
        print("\n".join(render(report)))
        if report.error is not None and not report.cases:
            code = 2
        elif not report.passed:
            code = max(code, 1)
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_bytes(junit_xml(reports))
        print(f"JUnit report: {junit}")
    return code


async def _run_all(
    settings: Settings,
    documents: Sequence[SpecDocument],
    *,
    url: str | None,
    key: str | None,
    timeout_s: float,
) -> list[SuiteReport]:
    reports: list[SuiteReport] = []
    for document in documents:
        try:
            if url and key:
                report = await run_against_server(url, key, document, timeout_s=timeout_s)
            else:
                report = await run_in_process(settings, document)
        except (SuiteError, httpx.HTTPError) as exc:
            message = f"could not run the suite: {exc}"
            report = SuiteReport(document.name, 0, url or "in-process", [], 0.0, error=message)
        reports.append(report)
    return reports
