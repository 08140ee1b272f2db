"""Alembic environment.

`migrate()` hands over an open connection (the normal path, no alembic.ini needed). Run by the
`alembic` command itself (to write a new revision with --autogenerate), it connects on its own
to `sqlalchemy.url` or DATABASE_URL, asynchronously as the bot does.
"""

import asyncio
import os

from alembic import context
from sqlalchemy import Connection

from bot.storage.db import create_engine, normalize_url
from bot.storage.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("set DATABASE_URL (or sqlalchemy.url) to run alembic directly")
    return normalize_url(url)


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
elif context.is_offline_mode():
    context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_standalone(_url()))
