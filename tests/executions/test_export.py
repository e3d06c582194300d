"""Export: every execution of the window (and agent) once, oldest first, with its attempts,
across pages; and the command writing a file."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.cli import main
from app.core.settings import Settings
from app.executions.export import expected, export_jsonl
from app.executions.record import AttemptKind, ExecutionRecord
from tests.executions.logged import log_connection, record, store

T0 = datetime(2026, 10, 30, 22, tzinfo=UTC)  # the log spans two months


FALLBACK: tuple[tuple[AttemptKind, str, float], ...] = (
    ("ask", "small", 0.001),
    ("fallback", "large", 0.01),
)


def _log() -> list[ExecutionRecord]:
    return [
        record(T0 + timedelta(hours=h), agent=agent, attempts=FALLBACK)
        for h in range(10)
        for agent in ("triage", "extract")
    ]


async def test_an_export_writes_each_execution_of_its_window_once_in_order(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    records = _log()
    await store(sessionmaker, records)
    since, until = T0 + timedelta(hours=1), T0 + timedelta(hours=8)
    out = io.StringIO()
    async with log_connection(sessionmaker) as connection:
        written = await export_jsonl(
            connection, out, since=since, until=until, agent="triage", page=2
        )
        total = await expected(connection, since=since, until=until, agent="triage")

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    wanted = [r for r in records if r.agent == "triage" and since <= r.created_at < until]
    assert written == total == len(lines) == len(wanted) == 7
    assert [line["id"] for line in lines] == [str(r.id) for r in wanted]
    assert [a["kind"] for a in lines[0]["attempts"]] == ["ask", "fallback"]
    assert lines[0]["input"] == {"text": "hello"}
    assert lines[0]["attempts"][1]["raw_text"] == '{"team": "billing"}'


def test_the_command_writes_a_json_lines_file(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from app.core.settings import get_settings

    asyncio.run(store(sessionmaker, _log()))
    monkeypatch.setenv("SPECLOOM_DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("SPECLOOM_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    out = tmp_path / "log.jsonl"
    try:
        code = main(["executions", "export", "--since", "2026-10-31T00:00", "--agent", "extract",
                     "--out", str(out)])  # fmt: skip
    finally:
        get_settings.cache_clear()
    assert code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 8  # 22:00 and 23:00 of the 30th are before --since
    assert {line["agent"] for line in lines} == {"extract"}
