"""Fuzz the whole API from its own /openapi.json with an admin key (schemathesis).

A real `specloom serve` (with the example specs live, served by the offline model) and the
schemathesis command line: every operation, generated valid and invalid requests; no 5xx,
and every response's status, content type, headers and body as the document says.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ADMIN_KEY, PgServer, fresh_database
from tests.servers import running_server

pytest.importorskip("schemathesis")

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


# The whole API fuzzed by a real server takes minutes on a busy machine: the run itself is
# bounded at 300 s below, so the suite-wide 120 s would cut it short.
@pytest.mark.timeout(420)
def test_schemathesis_finds_nothing(pg_server: PgServer, tmp_path: Path) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None, "schemathesis is installed but its `st` command is not"
    with fresh_database(pg_server) as database_url:
        env = {
            "SPECLOOM_DATABASE_URL": database_url,
            "SPECLOOM_ADMIN_KEY": ADMIN_KEY,
            "SPECLOOM_DATA_DIR": str(tmp_path / "data"),
        }
        with running_server(env, "--load-specs", log_path=tmp_path / "server.log") as server:
            report = tmp_path / "report.json"
            run = subprocess.run(
                [
                    st,
                    "run",
                    f"{server.base_url}/openapi.json",
                    "--header",
                    f"Authorization: Bearer {ADMIN_KEY}",
                    "--checks",
                    CHECKS,
                    "--max-examples",
                    "25",
                    "--seed",
                    "7",
                    "--report-json-path",
                    str(report),
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            server_log = server.log()
    summary = run.stdout[run.stdout.find("SUMMARY") :]
    assert run.returncode == 0, run.stdout[-6000:] + "\n" + server_log[-3000:]
    assert "Tested: " in summary
    assert "unhandled error" not in server_log
    print(summary)  # operations and generated requests, for the record
    assert report.exists()
    json.loads(report.read_text())
