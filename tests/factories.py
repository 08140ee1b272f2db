"""Jobs for tests, written the way the bot writes them: through `GuildStore.reserve`."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.moderation.gate import Limits
from bot.storage.guilds import GuildStore
from bot.storage.jobs import JobRecord, JobStore, NewJob


async def create(store: JobStore, new: NewJob) -> JobRecord:
    """Write `new` as a waiting job, with no limits in the way."""
    job = await GuildStore(store.db).reserve(new, Limits(), datetime.now(UTC))
    assert isinstance(job, JobRecord), job
    return job
