"""`specloom models check`: what a local server says about itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.providers.capabilities import describe, detect
from app.providers.catalog import Deployment
from tests.fakes.upstream import FakeUpstream, running_upstream
from tests.servers import free_port


@pytest.fixture(scope="module")
def server() -> Iterator[FakeUpstream]:
    with running_upstream() as fake:
        yield fake


async def test_a_llama_cpp_server_gives_its_context_and_takes_schemas(
    server: FakeUpstream,
) -> None:
    server.reset()
    server.props = {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 1}
    deployment = Deployment(
        alias="fast",
        model="openai/local",
        api_base=server.base_url,
        supports_response_schema=False,
        max_input_tokens=8192,
    )
    found = await detect(deployment)
    assert (found.reachable, found.server, found.context_window, found.grammar) == (
        True,
        "llama.cpp",
        4096,
        True,
    )
    assert found.models == ["fake"]
    line = describe(deployment, found)
    assert "WARNING: max_input_tokens 8192 > the server's 4096" in line
    assert "WARNING: supports_response_schema is false" in line


async def test_a_plain_openai_server_lists_its_models_only(server: FakeUpstream) -> None:
    server.reset()
    found = await detect(Deployment(alias="fast", model="openai/x", api_base=server.base_url))
    assert found.reachable
    assert found.models == ["fake"]
    assert found.server is None
    assert found.context_window is None


async def test_an_unreachable_server_says_so() -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"
    found = await detect(Deployment(alias="fast", model="openai/x", api_base=base))
    assert not found.reachable
    assert "not checked" in describe(Deployment(alias="fast", model="openai/x"), found)
