"""HISTORY_DAYS: the periodic task purges old prompts and clears forgotten members' ids."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.retention import Retention
from bot.storage.db import Database
from bot.storage.history import FORGOTTEN_USER, HistoryStore
from bot.storage.jobs import JobStore
from tests.storage.test_members import ALICE, NOW, made

BOB = ALICE + 5


async def test_the_task_purges_at_start_and_on_every_run(database: Database) -> None:
    """Started, it runs at once: a job older than HISTORY_DAYS loses its prompt, a newer one
    keeps it, a forgotten member's job of this month keeps its user id (it counts towards
    their quota). A run next month clears that id."""
    old = await made(database, NOW - timedelta(days=31), prompt="a month old")
    new = await made(database, NOW - timedelta(days=29), prompt="still kept")
    forgotten = await made(database, NOW - timedelta(days=2), user_id=BOB)
    history, store = HistoryStore(database), JobStore(database)
    await history.forget(BOB, NOW)

    retention = Retention(history, days=30, clock=lambda: NOW)
    retention.start()
    try:
        async with asyncio.timeout(5):
            while (await store.get(old.id)).prompt:  # type: ignore[union-attr]
                await asyncio.sleep(0.02)
    finally:
        await retention.stop()
    assert (await store.get(new.id)).prompt == "still kept"  # type: ignore[union-attr]
    assert (await store.get(forgotten.id)).user_id == BOB  # type: ignore[union-attr]

    next_month = Retention(history, days=30, clock=lambda: NOW + timedelta(days=20))
    assert await next_month.run_once() == (1, 1)  # `new` is 49 days old by then
    assert (await store.get(forgotten.id)).user_id == FORGOTTEN_USER  # type: ignore[union-attr]
    assert await next_month.run_once() == (0, 0)
