"""The audit log's batching and retry, with a channel that fails like Discord does."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import discord

from bot.moderation.policy import GuildPolicy
from cogs.audit import AuditLog


class FlakyChannel(discord.abc.Messageable):
    """Answers the first `failures` sends with a 503, then takes them."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[list[discord.Embed]] = []

    async def _get_channel(self) -> Any:
        return self

    async def send(self, content: str | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        if self.failures:
            self.failures -= 1
            raise discord.DiscordServerError(SimpleNamespace(status=503, reason="busy"), "busy")
        self.sent.append(kwargs["embeds"])


class FakeBot:
    def __init__(self, channel: FlakyChannel) -> None:
        self.channel = channel

    async def guild_policy(self, guild_id: int | None) -> GuildPolicy:
        return GuildPolicy(audit_channel_id=7)

    def get_channel(self, channel_id: int) -> FlakyChannel:
        return self.channel


async def test_entries_survive_a_discord_outage_and_are_posted_in_batches() -> None:
    channel = FlakyChannel(failures=2)
    log = AuditLog(FakeBot(channel), flush_seconds=0.05)  # type: ignore[arg-type]
    for n in range(12):
        await log.record(1, discord.Embed(title=f"entry {n}"))
    async with asyncio.timeout(5):
        while sum(len(batch) for batch in channel.sent) < 12:
            await asyncio.sleep(0.02)
    await log.close()
    assert [len(batch) for batch in channel.sent] == [10, 2]
    assert [e.title for batch in channel.sent for e in batch] == [f"entry {n}" for n in range(12)]
