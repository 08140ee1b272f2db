"""Alembic migrations shipped inside the package: `migrate(url)` needs no alembic.ini."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import create_engine, normalize_url, use_wal

HERE = Path(__file__).parent
# Any fixed number: PostgreSQL advisory lock so two processes never migrate at once.
_LOCK_ID = 7_316_205_811
# Alembic loads env.py as a module; two upgrades in one process must not interleave.
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _process_lock() -> asyncio.Lock:
    return _locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
    command.upgrade(_config(connection), revision)


def _sqlite_write_lock_first(engine: AsyncEngine) -> None:
    """Begin migration transactions with BEGIN IMMEDIATE: SQLite then takes its write lock
    before Alembic reads the current revision, so a second process waits (busy timeout) and
    finds the work done instead of creating the same tables again."""

    @event.listens_for(engine.sync_engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


async def migrate(url: str, revision: str = "head", **engine_kwargs: Any) -> None:
    """Bring the database to the newest revision, or to `revision` (safe to run again, and
    concurrently: a PostgreSQL advisory lock or SQLite's write lock lets one process at a time
    upgrade)."""
    engine = create_engine(normalize_url(url), **engine_kwargs)
    if engine.dialect.name == "sqlite":
        await use_wal(engine)
        await engine.dispose()  # the migration's connection must see the listeners below
        _sqlite_write_lock_first(engine)
    try:
        async with _process_lock(), engine.begin() as connection:
            await connection.run_sync(_upgrade, revision)
    finally:
        await engine.dispose()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision this version of the bot knows."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(HERE))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise RuntimeError("no migrations found")
    return head


async def current_revision(url: str, **engine_kwargs: Any) -> str | None:
    """The revision the database is at, or None before the first migration."""
    engine = create_engine(normalize_url(url), **engine_kwargs)
    try:
        async with engine.connect() as connection:
            return await asyncio.wait_for(connection.run_sync(_current), timeout=15)
    finally:
        await engine.dispose()
