"""Soak: many calls against a misbehaving primary with one healthy fallback.

The primary answers 20% 5xx, 10% 429 (with Retry-After), 5% hangs past the attempt timeout
and 10% malformed JSON; the rest are valid. Every answer must be schema-valid output or a
problem+json error, at least 99% must succeed, and every call must be recorded.

    .venv/bin/python -m tests.bench.soak --calls 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
from jsonschema import Draft202012Validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.settings import Settings
from app.main import create_app
from app.models import Execution
from tests.factories import make_document
from tests.fakes.upstream import Behaviour, FakeUpstream, Hang, Status, Text, Valid

KEY = "soak-admin-key"


@dataclass(frozen=True)
class SoakResult:
    calls: int
    succeeded: int
    problems: int
    invalid_outputs: int
    recorded: int
    wall_s: float
    primary_calls: int
    fallback_calls: int
    problem_types: dict[str, int]

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.calls

    def lines(self) -> list[str]:
        return [
            f"calls            {self.calls}",
            f"succeeded        {self.succeeded} ({self.success_rate:.2%})",
            f"problem+json     {self.problems}",
            f"invalid outputs  {self.invalid_outputs}",
            f"recorded         {self.recorded}",
            f"primary calls    {self.primary_calls}",
            f"fallback calls   {self.fallback_calls}",
            f"wall time        {self.wall_s:.1f} s",
            f"problems by type {self.problem_types}",
        ]


def misbehaviour(rng: random.Random) -> Behaviour:
    """One primary answer drawn from the soak's mix."""
    roll = rng.random()
    if roll < 0.20:
        return Status(rng.choice([500, 502, 503]))
    if roll < 0.30:
        return Status(429, headers={"Retry-After": "0.05"})
    if roll < 0.35:
        return Hang(1.0)
    if roll < 0.45:
        return Text(
            rng.choice(['{"team": "billing", "priority": ', "Sorry, I can't do that.", "{{{"])
        )
    return Valid()


async def soak(
    upstream: FakeUpstream, database_url: str, data_dir: Path, models_file: Path, calls: int
) -> SoakResult:
    """Run `calls` calls with 16 in flight and check every answer and every record."""
    rng = random.Random(20261122)
    upstream.script(*(misbehaviour(rng) for _ in range(calls * 4)), model="fake-fast")
    settings = Settings(
        database_url=database_url,
        admin_key=KEY,
        data_dir=data_dir,
        models_file=models_file,
        attempt_timeout_s=0.25,
        max_retries=2,
        retry_base_s=0.01,
        breaker_failures=8,
        breaker_cooldown_s=0.5,
    )
    document = make_document("soak-agent", model={"name": "fast", "fallbacks": ["smart"]})
    validator = Draft202012Validator(document["output_schema"])
    app = create_app(settings)
    succeeded = problems = invalid = 0
    problem_types: dict[str, int] = {}
    started = time.monotonic()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://soak", headers={"Authorization": f"Bearer {KEY}"}
        ) as http:
            (await http.post("/api/specs", json={"document": document})).raise_for_status()
            (
                await http.post("/api/specs/soak-agent/publish", json={"version": 1})
            ).raise_for_status()
            gate = asyncio.Semaphore(16)

            async def one(i: int) -> httpx.Response:
                async with gate:
                    body = {"subject": f"Ticket {i}", "body": f"Unique body {i} {rng.random()}"}
                    return await http.post("/v1/agents/soak-agent", json=body)

            responses = await asyncio.gather(*(one(i) for i in range(calls)))
    wall = time.monotonic() - started
    for response in responses:
        if response.status_code == 200:
            if list(validator.iter_errors(response.json())):
                invalid += 1
            else:
                succeeded += 1
        elif response.headers.get("content-type") == "application/problem+json":
            problems += 1
            kind = response.json()["type"].rsplit("/", 1)[-1]
            problem_types[kind] = problem_types.get(kind, 0) + 1
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        recorded = await conn.scalar(select(func.count()).select_from(Execution)) or 0
    await engine.dispose()
    return SoakResult(
        calls=calls,
        succeeded=succeeded,
        problems=problems,
        invalid_outputs=invalid,
        recorded=recorded,
        wall_s=wall,
        primary_calls=upstream.calls("fake-fast"),
        fallback_calls=upstream.calls("fake-smart"),
        problem_types=problem_types,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    import yaml
    from pgserver.postgres_server import get_server

    from app.core.database import upgrade_to_head
    from app.core.embedded import ensure_database
    from tests.fakes.upstream import running_upstream

    root = Path(tempfile.mkdtemp(prefix="specloom-soak-"))
    server = get_server(root / "pg", cleanup_mode="delete")
    socket_dir = server.get_postmaster_info().socket_dir
    ensure_database(f"postgresql://postgres@/postgres?host={socket_dir}", "soak")
    url = f"postgresql+psycopg://postgres@/soak?host={socket_dir}"
    upgrade_to_head(url)
    os.environ["FAKE_PROVIDER_KEY"] = "sk-fake"
    with running_upstream() as upstream:
        models = root / "models.yaml"
        models.write_text(yaml.safe_dump(models_list(upstream.base_url)))
        result = asyncio.run(soak(upstream, url, root / "data", models, args.calls))
    print("\n".join(result.lines()))


def models_list(base_url: str) -> dict[str, Any]:
    """`fast` and `smart`, both on the fake upstream."""
    return {
        "model_list": [
            {
                "model_name": alias,
                "litellm_params": {
                    "model": f"openai/fake-{alias}",
                    "api_base": base_url,
                    "api_key": "os.environ/FAKE_PROVIDER_KEY",
                },
            }
            for alias in ("fast", "smart")
        ]
    }


if __name__ == "__main__":
    main()
