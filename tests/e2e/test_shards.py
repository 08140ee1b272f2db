"""Several bot processes, one shard each, on one PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot.storage.db import normalize_url
from tests.conftest import ApiframeSandbox, BotProcess
from tests.discord_standin import LocalDiscord
from tests.discord_standin.state import Message
from tests.e2e.test_flux import done
from tests.storage.conftest import SKIP_PG, postgres_url


@pytest.fixture
async def shared_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for the processes to share, dropped afterwards."""
    url = postgres_url()
    if url is None:
        pytest.skip(SKIP_PG)
    raw = normalize_url(url).replace("postgresql+asyncpg://", "postgresql://")
    name = f"flux_e2e_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(raw)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def running(message: Message) -> bool:
    """The job was accepted by Apiframe (so its submission step has ended)."""
    title = str(message.embeds[0].get("title", "")) if message.embeds else ""
    return title.startswith(("Queued at Apiframe", "Generating"))


async def test_two_shards_share_one_database_and_finish_each_others_jobs(
    bot_env: dict[str, str],
    discord_standin: LocalDiscord,
    apiframe: ApiframeSandbox,
    shared_database: str,
    tmp_path: Path,
) -> None:
    """Shards 0 and 1 of 2: a server's commands reach only the shard that serves it, the
    commands are registered once, and when that shard dies mid-job the other one delivers
    the image, exactly once, without a second submission."""
    standin = discord_standin
    apiframe.sandbox.config.processing_seconds = 4
    shards = [
        BotProcess(
            {
                **bot_env,
                "DATABASE_URL": shared_database,
                "SHARD_ID": str(shard),
                "SHARD_COUNT": "2",
                "JOB_LEASE_SECONDS": "5",
            },
            tmp_path / f"shard-{shard}.log",
        )
        for shard in (0, 1)
    ]
    serving = (standin.guild.id >> 22) % 2
    try:
        for shard in shards:
            await shard.start()
        await standin.wait_for(
            lambda: standin.server.identifies == 2 and bool(standin.commands), timeout=60
        )
        await standin.wait_ready(timeout=30)
        syncs = [r for r in standin.server.requests if r[0] == "PUT" and "/commands" in r[1]]
        assert len(syncs) == 1

        handle = await standin.invoke("flux", options={"prompt": "a lighthouse, sharded"})
        await handle.wait_original(running, timeout=20)
        await shards[serving].kill()
        final = await handle.wait_original(done, timeout=40)
        assert final.attachments
        assert apiframe.sandbox.stats["created"] == 1
        posts = [e for e in standin.server.timeline if e.attachments]
        assert len(posts) == 1
        survivor = shards[1 - serving]
        # The survivor logs the delivery just after the post lands.
        await standin.wait_for(lambda: "delivered via" in survivor.output(), timeout=10)
        assert not standin.violations
    finally:
        for shard in shards:
            await shard.stop()
