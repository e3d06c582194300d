"""The execution log's monthly partitions: made on first use and ahead of time.

`execution` and `attempt` are partitioned by month of `created_at` (an attempt carries its
execution's time). The database function `specloom_log_month` makes one month of both; the
writer calls it the first time it meets a month (once a month per process, cached), and
the retention job makes the next months ahead, so writers seldom wait on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg

# Months known to exist, per database: a write into a month seen before costs nothing more.
_known: set[tuple[str, datetime]] = set()


def month_of(moment: datetime) -> datetime:
    """The first instant of the UTC month of `moment`."""
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def ensure_months(
    connection: psycopg.AsyncConnection[Any], moments: Iterable[datetime]
) -> None:
    """Make sure a partition holds each month of `moments` (a call to the database only for
    a month this process has not seen)."""
    database = connection.info.dbname
    for month in sorted({month_of(m) for m in moments}):
        if (database, month) not in _known:
            await connection.execute("SELECT specloom_log_month(%s)", (month,))
            _known.add((database, month))


def forget_month(database: str, month: datetime) -> None:
    """A month's partitions were dropped: make them again if a record of it comes."""
    _known.discard((database, month))
