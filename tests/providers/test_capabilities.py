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
    assert "llama.cpp, context 4096" in line
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


async def test_a_vllm_server_gives_its_max_model_len(server: FakeUpstream) -> None:
    server.reset()
    server.card = {"owned_by": "vllm", "max_model_len": 2048}
    deployment = Deployment(alias="fast", model="hosted_vllm/fake", api_base=server.base_url)
    found = await detect(deployment)
    assert (found.server, found.context_window, found.grammar) == ("vLLM", 2048, True)
    assert server.native_requests == []  # the list said it all: no further question


async def test_ollama_gives_the_context_a_loaded_model_runs_with(server: FakeUpstream) -> None:
    server.reset()
    server.native = {
        "/api/version": {"version": "0.12.0"},
        "/api/ps": {"models": [{"name": "qwen2.5:0.5b", "context_length": 4096}]},
        "/api/show": {
            "parameters": "temperature 0.7",
            "model_info": {"qwen2.context_length": 32768},
        },
    }
    deployment = Deployment(
        alias="fast",
        model="ollama_chat/qwen2.5:0.5b",
        api_base=server.base_url,
        supports_response_schema=True,
        max_input_tokens=8000,
    )
    found = await detect(deployment)
    assert (found.server, found.context_window, found.model_context) == ("Ollama", 4096, 32768)
    assert ("/api/show", {"model": "qwen2.5:0.5b"}) in server.native_requests
    assert found.warnings == ["max_input_tokens 8000 > the server's 4096"]


async def test_ollama_falls_back_to_a_modelfile_num_ctx_and_warns_when_it_says_none(
    server: FakeUpstream,
) -> None:
    server.reset()
    server.native = {
        "/api/version": {"version": "0.12.0"},
        "/api/ps": {"models": []},
        "/api/show": {"parameters": "num_ctx 8192\nstop <eos>"},
    }
    deployment = Deployment(alias="fast", model="ollama/gemma3", api_base=server.base_url)
    assert (await detect(deployment)).context_window == 8192
    server.native["/api/show"] = {"parameters": "temperature 0"}
    found = await detect(deployment)
    assert found.context_window is None
    assert any("OLLAMA_CONTEXT_LENGTH" in warning for warning in found.warnings)


async def test_lm_studio_gives_the_loaded_and_the_largest_context(server: FakeUpstream) -> None:
    server.reset()
    server.native = {
        "/api/v0/models": {
            "data": [
                {"id": "other", "max_context_length": 4096},
                {"id": "fake", "loaded_context_length": 4096, "max_context_length": 32768},
            ]
        }
    }
    deployment = Deployment(alias="fast", model="lm_studio/fake", api_base=server.base_url)
    found = await detect(deployment)
    assert (found.server, found.context_window, found.model_context) == ("LM Studio", 4096, 32768)


@pytest.mark.parametrize(
    ("api_base", "local"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost:11434", True),
        ("http://192.168.1.20:1234/v1", True),
        ("http://[::1]:8000/v1", True),
        ("https://api.openai.com/v1", False),
        ("http://8.8.8.8/v1", False),
        (None, False),
    ],
)
def test_a_deployment_on_a_machine_of_ones_own_is_local(api_base: str | None, local: bool) -> None:
    assert Deployment(alias="fast", model="openai/x", api_base=api_base).local is local
