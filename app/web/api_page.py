"""An agent's API: endpoint, OpenAPI download, and copy-ready client snippets."""

from __future__ import annotations

import json
import pprint
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.core.database import SessionDep
from app.evaluation.cases import list_cases
from app.registry import service
from app.serving.context import Runtime
from app.serving.openapi import standalone_document
from app.web.deps import UserDep, page, render

router = APIRouter(prefix="/ui", include_in_schema=False)

_PLACEHOLDERS: dict[str, Any] = {
    "string": "…",
    "integer": 0,
    "number": 0,
    "boolean": False,
    "array": [],
    "object": {},
}


def placeholder_input(schema: dict[str, Any]) -> dict[str, Any]:
    """A minimal input when the spec has no example: each required field with a placeholder."""
    properties = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for name in schema.get("required") or []:
        prop = properties.get(name) or {}
        enum = prop.get("enum")
        out[name] = enum[0] if enum else _PLACEHOLDERS.get(prop.get("type", "string"), "…")
    return out


def snippets(url: str, body: dict[str, Any]) -> dict[str, str]:
    """The same call in curl, Python (httpx), JavaScript (fetch) and Go, each sending `body`.

    JSON is JavaScript's own literal syntax, not Python's (`true`, `false` and `null` are
    `True`, `False` and `None` there), so the Python body is written as a Python literal.
    """
    pretty = json.dumps(body, indent=2, ensure_ascii=False)
    literal = pprint.pformat(body, indent=1, width=80, sort_dicts=False)
    compact = json.dumps(body, ensure_ascii=False)
    shell_body = compact.replace("'", "'\\''")
    go_body = compact.replace("`", '` + "`" + `')
    indented = pretty.replace("\n", "\n  ")
    return {
        "curl": (
            f'curl -s {url} \\\n  -H "Authorization: Bearer $SPECLOOM_API_KEY" \\\n'
            f"  -H 'content-type: application/json' \\\n  -d '{shell_body}'"
        ),
        "python": (
            "import os\n\nimport httpx\n\n"
            f'response = httpx.post(\n    "{url}",\n'
            '    headers={"Authorization": f"Bearer {os.environ[\'SPECLOOM_API_KEY\']}"},\n'
            f"    json={literal.replace(chr(10), chr(10) + '    ')},\n    timeout=60,\n)\n"
            "response.raise_for_status()\nprint(response.json())"
        ),
        "javascript": (
            f'const response = await fetch("{url}", {{\n  method: "POST",\n  headers: {{\n'
            "    Authorization: `Bearer ${process.env.SPECLOOM_API_KEY}`,\n"
            '    "Content-Type": "application/json",\n  },\n'
            f"  body: JSON.stringify({indented}),\n}});\n"
            "if (!response.ok) throw new Error(await response.text());\n"
            "console.log(await response.json());"
        ),
        "go": (
            'package main\n\nimport (\n\t"fmt"\n\t"io"\n\t"net/http"\n\t"os"\n'
            '\t"strings"\n)\n\nfunc main() {\n'
            f"\tbody := strings.NewReader(`{go_body}`)\n"
            f'\treq, _ := http.NewRequest("POST", "{url}", body)\n'
            '\treq.Header.Set("Authorization", "Bearer "+os.Getenv("SPECLOOM_API_KEY"))\n'
            '\treq.Header.Set("Content-Type", "application/json")\n'
            "\tresp, err := http.DefaultClient.Do(req)\n\tif err != nil {\n\t\tpanic(err)\n\t}\n"
            "\tdefer resp.Body.Close()\n\tout, _ := io.ReadAll(resp.Body)\n"
            "\tfmt.Println(resp.Status, string(out))\n}"
        ),
    }


@router.get("/agents/{name}/api", dependencies=[page("viewer")])
async def api_page(request: Request, name: str, user: UserDep, session: SessionDep) -> Response:
    """How to call the agent: endpoint, OpenAPI document, snippets with a real input."""
    spec = await service.get_spec(session, name)
    number = spec.live_version or spec.latest_version
    document = (await service.get_version(session, spec, number)).document
    examples = document.get("examples") or []
    cases = await list_cases(session, spec)
    if examples:
        body = examples[0]["input"]
    elif cases:
        body = cases[0].input
    else:
        body = placeholder_input(document.get("input_schema") or {})
    base = str(request.base_url).rstrip("/")
    url = f"{base}/v1/agents/{name}"
    return render(
        request,
        "ui/api.html",
        {
            "spec": spec,
            "agent_tabs": "api",
            "url": url,
            "version": number,
            "snippets": snippets(url, body),
            "output_schema": document.get("output_schema"),
        },
    )


@router.get("/agents/{name}/openapi.json", dependencies=[page("viewer")])
async def openapi_download(request: Request, name: str, user: UserDep) -> JSONResponse:
    """The agent's standalone OpenAPI document (live version), as a download."""
    runtime: Runtime = request.app.state.runtime
    agent = await runtime.live.get(name)
    server = str(request.base_url).rstrip("/")
    return JSONResponse(
        standalone_document(agent, server),
        headers={"Content-Disposition": f'attachment; filename="{name}.openapi.json"'},
    )
