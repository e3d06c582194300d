"""The execution log as JSON Lines, for warehouses and audits: one execution a line, with
its attempts, oldest first.

Rows are read in keyset pages of `page` executions, each page a short query of its own: an
export of months holds no transaction open (which would hold back vacuum, and retention's
detaching of a month) and never loads more than a page. Postgres writes each line's JSON.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any, LiteralString

import psycopg

_PAGE: LiteralString = """
SELECT e.created_at, e.id, (to_jsonb(e) || jsonb_build_object('attempts', coalesce((
    SELECT jsonb_agg(to_jsonb(a) - 'execution_id' - 'created_at' ORDER BY a.number)
    FROM attempt a WHERE a.execution_id = e.id AND a.created_at = e.created_at), '[]')))::text
FROM execution e
WHERE (e.created_at, e.id) > (%(after)s, %(after_id)s)
    AND e.created_at >= %(since)s AND e.created_at < %(until)s
    AND (%(agent)s::varchar IS NULL OR e.agent = %(agent)s)
ORDER BY e.created_at, e.id
LIMIT %(page)s
"""
# Exact for what retention has not removed: the rollups count every call ever stored.
_EXPECTED: LiteralString = """
SELECT coalesce(sum(calls), 0) FROM execution_hourly
WHERE hour >= date_trunc('hour', %(since)s::timestamptz, 'UTC') AND hour < %(until)s
    AND (%(agent)s::varchar IS NULL OR agent = %(agent)s)
"""
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


async def expected(
    connection: psycopg.AsyncConnection[Any],
    *,
    since: datetime | None,
    until: datetime | None,
    agent: str | None,
) -> int:
    """About how many executions an export will write (for a progress bar): the calls the
    rollup counted in the window's hours, some of which retention may have removed."""
    params = {"since": since or _EARLIEST, "until": until or _LATEST, "agent": agent}
    row = await (await connection.execute(_EXPECTED, params)).fetchone()
    return int(row[0]) if row else 0


async def export_jsonl(
    connection: psycopg.AsyncConnection[Any],
    out: IO[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    agent: str | None = None,
    page: int = 2000,
    progress: Callable[[int], object] = lambda n: None,
) -> int:
    """Write the executions created in [since, until) (of `agent`, or all) to `out`, one
    JSON object a line; how many were written. `progress` is told each page's count."""
    params: dict[str, Any] = {
        "since": since or _EARLIEST,
        "until": until or _LATEST,
        "agent": agent,
        "page": page,
        "after": _EARLIEST,
        "after_id": uuid.UUID(int=0),
    }
    written = 0
    while True:
        rows = await (await connection.execute(_PAGE, params)).fetchall()
        for _, _, line in rows:
            out.write(line)
            out.write("\n")
        written += len(rows)
        progress(len(rows))
        if len(rows) < page:
            return written
        params["after"], params["after_id"] = rows[-1][0], rows[-1][1]


def export_command(
    conninfo: str,
    path: str,
    *,
    since: datetime | None,
    until: datetime | None,
    agent: str | None,
) -> int:
    """`specloom executions export`: write the file (`-`: standard output) with a progress
    bar on standard error; how many executions were written."""
    import asyncio
    import sys

    from tqdm import tqdm

    async def run(out: IO[str]) -> int:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as db:
            total = await expected(db, since=since, until=until, agent=agent)
            with tqdm(total=total, unit=" executions", file=sys.stderr) as bar:
                return await export_jsonl(
                    db, out, since=since, until=until, agent=agent, progress=bar.update
                )

    if path == "-":
        return asyncio.run(run(sys.stdout))
    with open(path, "w", encoding="utf-8") as out:
        return asyncio.run(run(out))


def utc(text: str) -> datetime:
    """A command-line time: ISO 8601, read as UTC when it names no offset."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
