"""The audit-log channel: one compact embed per generation, refusal and settings change.

Entries are collected and posted together every few seconds, up to 10 embeds per message
within Discord's 6000-character total, so a busy server costs one message per flush, not one
per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING

import discord

from bot.jobs import describe
from bot.jobs.failures import Failure
from bot.moderation.gate import Refusal
from bot.storage.jobs import JobRecord
from cogs.flux._render import quoted

if TYPE_CHECKING:
    from app.bot import FluxBot

log = logging.getLogger(__name__)

EMBEDS_PER_MESSAGE = 10
CHARS_PER_MESSAGE = 6000
MAX_PENDING = 500  # per channel; beyond it the oldest entries are dropped (and counted)

COLOUR_GENERATION = discord.Colour.green()
COLOUR_REFUSAL = discord.Colour.orange()
COLOUR_CHANGE = discord.Colour.blurple()
COLOUR_BUDGET = discord.Colour.red()


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def generation_entry(job: JobRecord) -> discord.Embed:
    title = {"upscale": "Image upscaled", "outpaint": "Image zoomed out / panned"}
    embed = discord.Embed(
        title=title.get(job.kind, "Image generated"),
        colour=COLOUR_GENERATION,
        timestamp=job.delivered_at,
    )
    embed.description = quoted(job.prompt, 1000)
    embed.add_field(name="Member", value=f"<@{job.user_id}>")
    embed.add_field(name="Channel", value=f"<#{job.channel_id}>")
    embed.add_field(name="Cost", value=f"{job.credit_cost or 0} credits")
    embed.add_field(name="Settings", value=clip(describe.summary(job.request), 1024), inline=False)
    message_id = job.delivery_channel_message_id or job.response_message_id
    if job.private:
        link = "private (only the member sees it)"
    elif message_id:
        link = f"[Jump to the image]({jump_url(job.guild_id, job.channel_id, message_id)})"
    else:
        link = "—"
    embed.add_field(name="Result", value=link, inline=False)
    if job.parent_job_id:
        embed.add_field(name="Made from", value=f"job {job.parent_job_id}", inline=False)
    embed.set_footer(text=f"job {job.id} · {job.kind} · {job.source}")
    return embed


def deletion_entry(job: JobRecord, *, by_user_id: int, when: datetime) -> discord.Embed:
    embed = discord.Embed(title="Image deleted", colour=COLOUR_CHANGE, timestamp=when)
    embed.description = quoted(job.prompt, 500)
    embed.add_field(name="Asked by", value=f"<@{job.user_id}>")
    embed.add_field(name="Deleted by", value=f"<@{by_user_id}>")
    embed.add_field(name="Channel", value=f"<#{job.channel_id}>")
    embed.set_footer(text=f"job {job.id}")
    return embed


def refusal_entry(
    refusal: Refusal, *, user_id: int, channel_id: int, prompt: str, when: datetime
) -> discord.Embed:
    embed = discord.Embed(
        title=f"Refused: {refusal.check.value}", colour=COLOUR_REFUSAL, timestamp=when
    )
    embed.description = quoted(prompt, 500)
    embed.add_field(name="Member", value=f"<@{user_id}>")
    embed.add_field(name="Channel", value=f"<#{channel_id}>")
    if refusal.detail:
        embed.add_field(name="Rule", value=clip(refusal.detail, 1024), inline=False)
    return embed


def change_entry(
    *, user_id: int, changes: list[tuple[str, str, str]], when: datetime
) -> discord.Embed:
    """`changes` holds (setting, before, after) as display text."""
    embed = discord.Embed(title="Settings changed", colour=COLOUR_CHANGE, timestamp=when)
    lines = [f"**{name}**: {before} → {after}" for name, before, after in changes]
    embed.description = clip("\n".join(lines) or "no change", 3000)
    embed.add_field(name="By", value=f"<@{user_id}>")
    return embed


def failure_entry(job: JobRecord, failure: Failure, *, when: datetime) -> discord.Embed:
    """A failure the admins must act on (credits, the API key), with the numbers."""
    embed = discord.Embed(
        title=f"{describe.kind_label(job.kind)} failed: {failure.kind.value}",
        colour=COLOUR_BUDGET,
        timestamp=when,
    )
    embed.description = clip(failure.admin_detail, 1000)
    embed.add_field(name="Member", value=f"<@{job.user_id}>")
    embed.add_field(name="Channel", value=f"<#{job.channel_id}>")
    embed.set_footer(text=f"job {job.id} · not counted")
    return embed


def budget_entry(*, percent: int, spent: int, budget: int, stopped: bool) -> discord.Embed:
    title = (
        "Monthly budget used up: generation is paused until next month"
        if stopped
        else f"Monthly budget {percent} % used"
    )
    embed = discord.Embed(title=title, colour=COLOUR_BUDGET)
    embed.description = f"{spent} of {budget} credits spent or reserved this month."
    return embed


class AuditLog:
    """Buffers entries per audit channel and posts them in batches."""

    def __init__(self, bot: FluxBot, flush_seconds: float) -> None:
        self.bot = bot
        self.flush_seconds = flush_seconds
        self._pending: dict[int, deque[discord.Embed]] = {}
        self._dropped: dict[int, int] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def record(self, guild_id: int | None, embed: discord.Embed) -> None:
        """Queue `embed` for the guild's audit channel, if it has one."""
        if not guild_id:
            return
        policy = await self.bot.guild_policy(guild_id)
        if policy.audit_channel_id is None:
            return
        queue = self._pending.setdefault(policy.audit_channel_id, deque())
        if len(queue) >= MAX_PENDING:
            queue.popleft()
            self._dropped[policy.audit_channel_id] = (
                self._dropped.get(policy.audit_channel_id, 0) + 1
            )
        queue.append(embed)
        self._start()

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="audit-log")

    async def _run(self) -> None:
        while self._pending:
            await asyncio.sleep(self.flush_seconds)
            await self.flush()

    async def flush(self) -> None:
        """Post everything queued now. Entries Discord could not take for a passing reason
        (5xx, network) wait for the next flush; a refusal (no access) drops them."""
        for channel_id in list(self._pending):
            queue = self._pending.pop(channel_id)
            dropped = self._dropped.pop(channel_id, 0)
            try:
                await self._post(channel_id, queue, dropped)
            except (discord.DiscordServerError, OSError) as exc:
                log.warning("audit log: channel %s busy (%s); retrying later", channel_id, exc)
                later = self._pending.setdefault(channel_id, deque())
                later.extendleft(reversed(queue))
                while len(later) > MAX_PENDING:
                    later.popleft()
                self._start()
            except Exception:
                log.exception("audit log: could not post to channel %s", channel_id)

    async def _post(self, channel_id: int, embeds: deque[discord.Embed], dropped: int) -> None:
        """Send `embeds` in batches, taking each batch off the queue once it is posted."""
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("audit log: channel %s is unknown or not a text channel", channel_id)
            return
        content = (
            f"({dropped} older entries were dropped while Discord was busy)" if dropped else None
        )
        while embeds:
            batch: list[discord.Embed] = []
            for embed in embeds:
                total = sum(len(e) for e in batch) + len(embed)
                if batch and (len(batch) == EMBEDS_PER_MESSAGE or total > CHARS_PER_MESSAGE):
                    break
                batch.append(embed)
            await channel.send(content=content, embeds=batch)
            content = None
            for _ in batch:
                embeds.popleft()

    async def close(self) -> None:
        """Post what is left, then stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()
