"""Fuzz the whole API from its own /openapi.json with an admin key (schemathesis).

A real `specloom serve` (with the example specs live, served by the offline model) and the
schemathesis command line: every operation, generated valid and invalid requests, every
check: no 5xx, no schema-violating request accepted, and every response's status, content
type, headers (Allow on 405 included) and body as the document says.
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

# Every check schemathesis has, but one: `positive_data_acceptance` expects every
# schema-valid request to succeed, and some validity depends on stored data the document
# cannot express (a test case's input must match its agent's input schema, a cursor must be
# one the API gave out, a spec document must be a valid spec). Those get a documented 4xx.
EXCLUDED_CHECKS = "positive_data_acceptance"


@pytest.mark.timeout(600)  # about a minute on an idle machine; much more under load
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
                    "all",
                    "--exclude-checks",
                    EXCLUDED_CHECKS,
                    "--max-examples",
                    "25",
                    "--seed",
                    "7",
                    "--report-json-path",
                    str(report),
                ],
                capture_output=True,
                text=True,
                timeout=540,
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
