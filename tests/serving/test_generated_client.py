"""A real generator builds a typed Python client from an agent's OpenAPI document, and it works.

`openapi-python-client` reads `/v1/agents/{name}/openapi.json` of a live agent; the generated
package calls the agent (over the test app's transport, the model answered by the fake
upstream) and hands back an instance of its own generated output class, enums included.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream, Valid
from tests.serving.conftest import live_agent

ANSWER = {"team": "billing", "priority": "high", "summary": "Charged twice"}
PACKAGE = "triage_client"


@pytest.fixture
def import_path(tmp_path: Path) -> Iterator[Path]:
    """A directory on sys.path for the generated package, removed (with its modules) after."""
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def generate(document: dict[str, Any], into: Path) -> None:
    """Run the generator's command line on the document, writing the package into `into`."""
    tool = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    assert tool is not None, "openapi-python-client is a dev dependency"
    source = into / "openapi.json"
    source.write_text(json.dumps(document))
    config = into / "config.json"
    config.write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    run = subprocess.run(
        [
            tool,
            "generate",
            "--path",
            str(source),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(into / PACKAGE),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


async def test_a_generated_client_calls_the_agent_and_gets_a_typed_object(
    api: httpx.AsyncClient, upstream: FakeUpstream, import_path: Path
) -> None:
    await live_agent(api)
    document = (await api.get("/v1/agents/ticket-triage/openapi.json")).json()
    generate(document, import_path)
    # The document's names become the client's: operationId and component titles.
    call = importlib.import_module(f"{PACKAGE}.api.agents.invoke_ticket_triage")
    models = importlib.import_module(f"{PACKAGE}.models")
    client_module = importlib.import_module(f"{PACKAGE}.client")

    upstream.script(Valid(ANSWER))
    client = client_module.AuthenticatedClient(base_url="http://test", token="unused")
    client.set_async_httpx_client(api)  # the admin client of the app under test
    body = models.TicketTriageInput(subject="Refund", body="I was charged twice")
    result = await call.asyncio(client=client, body=body)

    assert isinstance(result, models.TicketTriageOutput), result
    assert result.team is models.TicketTriageOutputTeam.BILLING
    assert result.priority is models.TicketTriageOutputPriority.HIGH
    assert result.to_dict() == ANSWER
    assert upstream.calls() == 1
