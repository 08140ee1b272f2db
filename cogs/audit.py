"""The audit-log channel: one compact embed per generation, refusal and settings change.

Entries are collected and posted together every few seconds, up to 10 embeds per message
within Discord's 6000-character total, so a busy server costs one message per flush, not one
per event. Everyone in the channel reads them, so each entry is built in the server's language
(`/flux-admin language`, else its Community language) when it is recorded; the English
`detail` of a refusal or failure is shown as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import discord

from bot import i18n
from bot.i18n import Renderable, t, tn
from bot.jobs import describe
from bot.jobs.failures import Failure
from bot.moderation.gate import Refusal
from bot.moderation.policy import Check
from bot.storage.jobs import JobRecord
from cogs.flux._render import quoted
from cogs.i18n import server_language

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

# An entry, built in a language (`en`, `de`…) once the guild's is known.
Entry = Callable[[str], discord.Embed]

_GENERATED = {
    "upscale": t("Image upscaled"),
    "outpaint": t("Image zoomed out / panned"),
}
_REFUSED = {
    Check.BANNED: t("Refused: banned"),
    Check.CHANNEL: t("Refused: channel"),
    Check.ROLE: t("Refused: role"),
    Check.PROMPT: t("Refused: prompt"),
    Check.FEATURE: t("Refused: feature"),
    Check.COOLDOWN: t("Refused: cooldown"),
    Check.IN_FLIGHT: t("Refused: in flight"),
    Check.QUOTA: t("Refused: quota"),
    Check.BUDGET: t("Refused: budget"),
}
MEMBER = t("Member")
CHANNEL = t("Channel")


def _in(lang: str) -> Callable[[Renderable], str]:
    """Renders a message in `lang`."""
    return functools.partial(i18n.render, locale=lang)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    where = guild_id or "@me"
    return f"https://discord.com/channels/{where}/{channel_id}/{message_id}"  # i18n: not shown


def generation_entry(job: JobRecord) -> Entry:
    def build(lang: str) -> discord.Embed:
        say = _in(lang)
        embed = discord.Embed(
            title=say(_GENERATED.get(job.kind, t("Image generated"))),
            colour=COLOUR_GENERATION,
            timestamp=job.delivered_at,
        )
        embed.description = quoted(job.prompt, 1000)
        embed.add_field(name=say(MEMBER), value=f"<@{job.user_id}>")
        embed.add_field(name=say(CHANNEL), value=f"<#{job.channel_id}>")
        cost = job.credit_cost or 0
        embed.add_field(
            name=say(t("Cost")), value=say(tn("{count} credit", "{count} credits", cost))
        )
        settings = say(describe.summary(job.request))
        embed.add_field(name=say(t("Settings")), value=clip(settings, 1024), inline=False)
        message_id = job.delivery_channel_message_id or job.response_message_id
        if job.private:
            link = say(t("private (only the member sees it)"))
        elif message_id:
            url = jump_url(job.guild_id, job.channel_id, message_id)
            link = say(t("[Jump to the image]({url})", url=url))
        else:
            link = "—"
        embed.add_field(name=say(t("Result")), value=link, inline=False)
        if job.parent_job_id:
            made_from = say(t("job {id}", id=str(job.parent_job_id)))
            embed.add_field(name=say(t("Made from")), value=made_from, inline=False)
        footer = t("job {id} · {kind} · {source}", id=str(job.id), kind=job.kind, source=job.source)
        embed.set_footer(text=say(footer))
        return embed

    return build


def deletion_entry(job: JobRecord, *, by_user_id: int, when: datetime) -> Entry:
    def build(lang: str) -> discord.Embed:
        say = _in(lang)
        embed = discord.Embed(title=say(t("Image deleted")), colour=COLOUR_CHANGE, timestamp=when)
        embed.description = quoted(job.prompt, 500)
        embed.add_field(name=say(t("Asked by")), value=f"<@{job.user_id}>")
        embed.add_field(name=say(t("Deleted by")), value=f"<@{by_user_id}>")
        embed.add_field(name=say(CHANNEL), value=f"<#{job.channel_id}>")
        embed.set_footer(text=say(t("job {id}", id=str(job.id))))
        return embed

    return build


def refusal_entry(
    refusal: Refusal, *, user_id: int, channel_id: int, prompt: str, when: datetime
) -> Entry:
    """The check that refused, who and where; the rule in plain English (`detail`), never the
    member's reason again."""

    def build(lang: str) -> discord.Embed:
        say = _in(lang)
        title = say(_REFUSED[refusal.check])
        embed = discord.Embed(title=title, colour=COLOUR_REFUSAL, timestamp=when)
        embed.description = quoted(prompt, 500)
        embed.add_field(name=say(MEMBER), value=f"<@{user_id}>")
        embed.add_field(name=say(CHANNEL), value=f"<#{channel_id}>")
        if refusal.detail:
            embed.add_field(name=say(t("Rule")), value=clip(refusal.detail, 1024), inline=False)
        return embed

    return build


def change_entry(
    *,
    user_id: int,
    changes: Sequence[tuple[Renderable, Renderable, Renderable]],
    when: datetime,
) -> Entry:
    """`changes` holds (setting, before, after) as display text."""

    def build(lang: str) -> discord.Embed:
        say = _in(lang)
        embed = discord.Embed(
            title=say(t("Settings changed")), colour=COLOUR_CHANGE, timestamp=when
        )
        lines = [
            f"**{say(name)}**: {say(before)} → {say(after)}" for name, before, after in changes
        ]
        embed.description = clip("\n".join(lines) or say(t("no change")), 3000)
        embed.add_field(name=say(t("By")), value=f"<@{user_id}>")
        return embed

    return build


def failure_entry(job: JobRecord, failure: Failure, *, when: datetime) -> Entry:
    """A failure the admins must act on (credits, the API key), with the numbers."""

    def build(lang: str) -> discord.Embed:
        say = _in(lang)
        title = t(
            "{kind} failed: {failure}",
            kind=describe.kind_label(job.kind),
            failure=failure.kind.value,
        )
        embed = discord.Embed(title=say(title), colour=COLOUR_BUDGET, timestamp=when)
        embed.description = clip(failure.admin_detail, 1000)
        embed.add_field(name=say(MEMBER), value=f"<@{job.user_id}>")
        embed.add_field(name=say(CHANNEL), value=f"<#{job.channel_id}>")
        embed.set_footer(text=say(t("job {id} · not counted", id=str(job.id))))
        return embed

    return build


def budget_entry(*, percent: int, spent: int, budget: int, stopped: bool) -> Entry:
    def build(lang: str) -> discord.Embed:
        title = (
            t("Monthly budget used up: generation is paused until next month")
            if stopped
            else t("Monthly budget used: {percent} %", percent=percent)
        )
        say = _in(lang)
        embed = discord.Embed(title=say(title), colour=COLOUR_BUDGET)
        embed.description = say(
            tn(
                "{spent} of {count} credit spent or reserved this month.",
                "{spent} of {count} credits spent or reserved this month.",
                budget,
                spent=spent,
            )
        )
        return embed

    return build


class AuditLog:
    """Buffers entries per audit channel and posts them in batches."""

    def __init__(self, bot: FluxBot, flush_seconds: float) -> None:
        self.bot = bot
        self.flush_seconds = flush_seconds
        self._pending: dict[int, deque[discord.Embed]] = {}
        self._dropped: dict[int, int] = {}
        self._language: dict[int, str] = {}  # per channel: its guild's, when last recorded
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def record(self, guild_id: int | None, entry: Entry | discord.Embed) -> None:
        """Queue `entry` for the guild's audit channel, if it has one, built in the language
        of the server (an embed built already is posted as it is)."""
        if not guild_id:
            return
        policy = await self.bot.guild_policy(guild_id)
        if policy.audit_channel_id is None:
            return
        lang = server_language(self.bot.get_guild(guild_id), policy.language)
        self._language[policy.audit_channel_id] = lang
        embed = entry if isinstance(entry, discord.Embed) else entry(lang)
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
            self._task = asyncio.create_task(self._run(), name="audit-log")  # i18n: not shown

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
        lost = tn(
            "({count} older entry was dropped while Discord was busy)",
            "({count} older entries were dropped while Discord was busy)",
            dropped,
        )
        content = i18n.render(lost, self._language.get(channel_id)) if dropped else None
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
