"""What /flux-admin shows: the settings in force, the prompt rules, and usage per member
(generations, credits, failures) as an embed with a chart, or CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime

import discord

from bot import charts
from bot.jobs.describe import kinds_summary
from bot.jobs.request import JOB_KINDS
from bot.moderation.policy import GuildPolicy
from bot.storage.guilds import DayTotals, MemberTotals
from bot.text import counted, noun
from cogs import audit
from cogs.admin import _format


def settings_embed(policy: GuildPolicy) -> discord.Embed:
    embed = discord.Embed(title="Image bot settings", colour=audit.COLOUR_CHANGE)
    for name, value in _format.sections(policy):
        embed.add_field(name=name, value=audit.clip(value, 1024), inline=False)
    embed.set_footer(text="Days and months are UTC. Only finished images count.")
    return embed


def rules_embed(policy: GuildPolicy) -> discord.Embed:
    embed = discord.Embed(title="Prompt rules", colour=audit.COLOUR_CHANGE)
    words = ", ".join(f"`{w}`" for w in policy.blocked_words) or "none"
    patterns = "\n".join(f"`{p}`" for p in policy.blocked_patterns) or "none"
    terms = ", ".join(policy.adult_terms) or "none"
    embed.add_field(name="Blocked words", value=audit.clip(words, 1024), inline=False)
    embed.add_field(name="Blocked patterns", value=audit.clip(patterns, 1024), inline=False)
    embed.add_field(name="Adult terms", value=audit.clip(terms, 1024), inline=False)
    return embed


def usage_embed(rows: list[MemberTotals], label: str) -> discord.Embed:
    """The totals and the ten busiest members."""
    embed = discord.Embed(title=f"Image bot usage: {label}", colour=audit.COLOUR_CHANGE)
    images = sum(r.generations for r in rows)
    credits = sum(r.credits for r in rows)
    embed.description = (
        f"**{images}** {noun(images, 'image')}, **{credits}** {noun(credits, 'credit')}, "
        f"**{sum(r.failures for r in rows)}** failed (not counted) "
        f"by {counted(len(rows), 'member')}."
    )
    top = "\n".join(
        f"{i}. <@{r.user_id}>: {counted(r.generations, 'image')},"
        f" {counted(r.credits, 'credit')}" + (f", {r.failures} failed" if r.failures else "")
        for i, r in enumerate(rows[:10], start=1)
    )
    embed.add_field(name="Top members", value=audit.clip(top or "nobody yet", 1024))
    if kinds := kinds_summary(r.by_kind for r in rows):
        embed.add_field(name="By kind", value=kinds, inline=False)
    return embed


def usage_csv(rows: list[MemberTotals], since: datetime, until: datetime) -> discord.File:
    """Every member's totals, one row each."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["user_id", "generations", "credits", "failures", *JOB_KINDS])
    writer.writerows(
        (r.user_id, r.generations, r.credits, r.failures, *(r.by_kind.get(k, 0) for k in JOB_KINDS))
        for r in rows
    )
    return discord.File(
        io.BytesIO(buffer.getvalue().encode()),
        filename=f"flux-usage-{since:%Y%m%d}-{until:%Y%m%d}.csv",
    )


CHART_NAME = "flux-usage.png"


async def usage_chart(
    guild: discord.Guild | None, rows: list[MemberTotals], days: list[DayTotals], label: str
) -> discord.File:
    """The chart of the period as an attachment the embed shows (drawn in a worker thread)."""

    def name(user_id: int) -> str:
        member = guild.get_member(user_id) if guild else None
        return member.display_name if member else f"member {user_id}"

    top = [(name(r.user_id), r.generations) for r in rows if r.generations][:8]
    png = await asyncio.to_thread(charts.usage_chart, days, top, f"Image bot usage: {label}")
    return discord.File(io.BytesIO(png), filename=CHART_NAME)
