"""Alembic environment: migrations run synchronously over psycopg 3."""

from __future__ import annotations

import re

from alembic import context
from sqlalchemy import create_engine, pool

from app.models import Base

config = context.config
target_metadata = Base.metadata


# The monthly partitions of the execution log (execution_y2026m12, attempt_y2026m12), made
# by `specloom_log_month` at run time: the models name only their parents.
_PARTITION = re.compile(r"^(execution|attempt)_y\d{4}m\d{2}$")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave procrastinate's own tables (created by migration 0005) and the log's monthly
    partitions out of drift checks."""
    if type_ != "table" or name is None:
        return True
    return not (name.startswith("procrastinate") or _PARTITION.match(name))


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from app.core.database import database_url
        from app.core.settings import get_settings

        url = database_url(get_settings())
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
