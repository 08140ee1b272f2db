"""A migrated database per test: a SQLite file always, PostgreSQL when a URL is configured.

PostgreSQL tests each get their own schema, so they run in parallel and leave nothing behind.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.storage.db import Database, normalize_url
from bot.storage.migrations import migrate


def postgres_url() -> str | None:
    for name in ("FLUX_TEST_POSTGRES_URL", "TEST_DATABASE_URL"):
        if os.environ.get(name):
            return os.environ[name]
    return None


SKIP_PG = "PostgreSQL not configured: set FLUX_TEST_POSTGRES_URL=postgresql://…"

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.skipif(postgres_url() is None, reason=SKIP_PG)),
]


class DatabaseFactory:
    """Opens engines on the test's database (several, to act as several processes)."""

    def __init__(self, url: str, engine_kwargs: dict[str, Any]) -> None:
        self.url = url
        self.engine_kwargs = engine_kwargs
        self.opened: list[Database] = []

    def open(self) -> Database:
        db = Database(self.url, **self.engine_kwargs)
        self.opened.append(db)
        return db

    async def migrate(self, revision: str = "head") -> None:
        await migrate(self.url, revision, **self.engine_kwargs)

    async def close(self) -> None:
        for db in self.opened:
            await db.dispose()


@pytest.fixture(params=BACKENDS)
async def databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[DatabaseFactory]:
    if request.param == "sqlite":
        factory = DatabaseFactory(f"sqlite+aiosqlite:///{tmp_path / 'flux.db'}", {})
        yield factory
        await factory.close()
        return
    url = postgres_url()
    assert url is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    raw = normalize_url(url).replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(raw)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    factory = DatabaseFactory(url, {"connect_args": {"server_settings": {"search_path": schema}}})
    try:
        yield factory
    finally:
        await factory.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
async def database(databases: DatabaseFactory) -> Database:
    await databases.migrate()
    return databases.open()


NewJobFactory = Callable[..., Any]
