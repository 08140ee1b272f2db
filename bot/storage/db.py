"""Engine and sessions. Nothing connects at import time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def normalize_url(url: str) -> str:
    """Pick the async driver for plain URLs: postgres(ql):// → asyncpg, sqlite:// → aiosqlite."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


def describe_url(url: str) -> str:
    """The URL with any password hidden, for logs and messages."""
    return make_url(normalize_url(url)).render_as_string(hide_password=True)


def is_sqlite(url: str) -> bool:
    return make_url(normalize_url(url)).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`; for a SQLite file its folder is created first."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        if database and database != ":memory:":
            # One connection: SQLite has a single writer, and writers on several connections
            # wait for each other in its busy handler, which sleeps up to 100 ms per retry.
            # Queued in the pool instead, each statement waits only for the one before it.
            kwargs = {"pool_size": 1, "max_overflow": 0, **kwargs}
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


async def use_wal(engine: AsyncEngine, attempts: int = 100) -> None:
    """Put a SQLite file in WAL mode (readers never wait for the writer). The mode is stored
    in the file, so this is needed once. Switching takes an exclusive lock that SQLite refuses
    at once, without its busy wait, while another process holds a lock (two processes
    starting on a new file), so it is retried here."""
    if engine.url.database in (None, "", ":memory:"):
        return  # nothing to share, nothing to switch
    for attempt in range(attempts):
        try:
            async with engine.connect() as connection:
                mode = await connection.scalar(text("PRAGMA journal_mode=WAL"))
            if str(mode).lower() == "wal":
                return
        except OperationalError:
            if attempt + 1 == attempts:
                raise
        await asyncio.sleep(0.05)


class Database:
    """The engine plus a session factory; built once at start-up and passed in."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalize_url(url)
        self.engine = create_engine(self.url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed on success."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
