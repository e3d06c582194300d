"""Document fixtures: the serving fixtures (fake upstream), and agents with file fields."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.serving.conftest import (  # noqa: F401 - fixtures shared with the serving tests
    api,
    live_agent,
    make_api,
    serving_app,
    serving_settings,
    upstream,
    upstream_server,
)

OUTPUT = {
    "type": "object",
    "properties": {"summary": {"type": "string"}, "pages": {"type": "integer"}},
    "required": ["summary"],
    "additionalProperties": False,
}


def file_input(media_type: str = "application/pdf") -> dict[str, Any]:
    """An input schema with a file field `document` and a plain field `note`."""
    return {
        "type": "object",
        "properties": {
            "document": {
                "type": "string",
                "contentMediaType": media_type,
                "contentEncoding": "base64",
                "description": "The document",
            },
            "note": {"type": "string"},
        },
        "required": ["document"],
    }


async def file_agent(
    http: httpx.AsyncClient, name: str = "reader", media_type: str = "application/pdf"
) -> None:
    """A live agent whose input has a file field `document`."""
    await live_agent(
        http,
        name,
        input_schema=file_input(media_type),
        output_schema=OUTPUT,
        examples=[],
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def vision_models_file(path: Path, base_url: str, *, vision: bool) -> Path:
    """`fast` and `smart` on the fake upstream, declared as taking images or not."""
    entries = [
        {
            "model_name": alias,
            "litellm_params": {
                "model": f"openai/fake-{alias}",
                "api_base": base_url,
                "api_key": "os.environ/FAKE_PROVIDER_KEY",
            },
            "model_info": {"supports_vision": vision},
        }
        for alias in ("fast", "smart")
    ]
    path.write_text(yaml.safe_dump({"model_list": entries}))
    return path
