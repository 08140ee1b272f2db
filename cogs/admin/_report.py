"""What /flux-admin shows: the settings in force, the prompt rules, and usage per member
(generations, credits, failures) as an embed with a chart, or CSV; in the moderator's
language."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime

import discord

from bot import charts, i18n
from bot.i18n import Text, t, tn
from bot.jobs.describe import kinds_summary
from bot.jobs.request import JOB_KINDS
from bot.moderation.policy import GuildPolicy
from bot.storage.guilds import DayTotals, MemberTotals
from bot.storage.history import FORGOTTEN_USER
from cogs import audit
from cogs.admin import _format

NONE = _format.NONE


def settings_embed(
    policy: GuildPolicy, locale: object = None, server_locale: object = None
) -> discord.Embed:
    embed = discord.Embed(
        title=i18n.render(t("Image bot settings"), locale), colour=audit.COLOUR_CHANGE
    )
    for name, value in _format.sections(policy, locale, server_locale):
        embed.add_field(name=name, value=audit.clip(value, 1024), inline=False)
    footer = t("Days and months are UTC. Only finished images count.")
    embed.set_footer(text=i18n.render(footer, locale))
    return embed


def rules_embed(policy: GuildPolicy, locale: object = None) -> discord.Embed:
    def shown(entries: list[str], sep: str) -> str:
        return audit.clip(sep.join(entries) or i18n.render(NONE, locale), 1024)

    embed = discord.Embed(title=i18n.render(t("Prompt rules"), locale), colour=audit.COLOUR_CHANGE)
    fields = (
        (t("Blocked words"), shown([f"`{w}`" for w in policy.blocked_words], ", ")),
        (t("Blocked patterns"), shown([f"`{p}`" for p in policy.blocked_patterns], "\n")),
        (t("Adult terms"), shown(list(policy.adult_terms), ", ")),
    )
    for name, value in fields:
        embed.add_field(name=i18n.render(name, locale), value=value, inline=False)
    return embed


def title(label: Text) -> Text:
    return t("Image bot usage: {period}", period=label)


def usage_embed(rows: list[MemberTotals], label: Text, locale: object = None) -> discord.Embed:
    """The totals and the ten busiest members."""
    embed = discord.Embed(title=i18n.render(title(label), locale), colour=audit.COLOUR_CHANGE)
    images = sum(r.generations for r in rows)
    credits = sum(r.credits for r in rows)
    failures = sum(r.failures for r in rows)
    totals = t(
        "{images}, {credits}, {failed} by {members}.",
        images=tn("**{count}** image", "**{count}** images", images),
        credits=tn("**{count}** credit", "**{count}** credits", credits),
        failed=tn("**{count}** failed (not counted)", "**{count}** failed (not counted)", failures),
        members=tn("{count} member", "{count} members", len(rows)),
    )
    embed.description = i18n.render(totals, locale)
    top = "\n".join(i18n.render(_top_line(i, r), locale) for i, r in enumerate(rows[:10], 1))
    embed.add_field(
        name=i18n.render(t("Top members"), locale),
        value=audit.clip(top or i18n.render(t("nobody yet"), locale), 1024),
    )
    if kinds := kinds_summary(r.by_kind for r in rows):
        embed.add_field(
            name=i18n.render(t("By kind"), locale), value=i18n.render(kinds, locale), inline=False
        )
    return embed


def _top_line(rank: int, row: MemberTotals) -> Text:
    images = tn("{count} image", "{count} images", row.generations)
    credits = tn("{count} credit", "{count} credits", row.credits)
    who = _member(row.user_id)
    if row.failures:
        return t(
            "{rank}. {member}: {images}, {credits}, {failed}",
            rank=rank,
            member=who,
            images=images,
            credits=credits,
            failed=tn("{count} failed", "{count} failed", row.failures),
        )
    return t(
        "{rank}. {member}: {images}, {credits}",
        rank=rank,
        member=who,
        images=images,
        credits=credits,
    )


FORGOTTEN = t("forgotten members")


def _member(user_id: int) -> Text | str:
    """A member as a mention; the jobs of members who asked to be forgotten as one line."""
    return FORGOTTEN if user_id == FORGOTTEN_USER else f"<@{user_id}>"


def usage_csv(rows: list[MemberTotals], since: datetime, until: datetime) -> discord.File:
    """Every member's totals, one row each (column names for spreadsheets, not translated)."""
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
    guild: discord.Guild | None,
    rows: list[MemberTotals],
    days: list[DayTotals],
    label: Text,
    locale: object = None,
) -> discord.File:
    """The chart of the period as an attachment the embed shows (drawn in a worker thread),
    labelled in the language of `locale`."""

    def name(user_id: int) -> str:
        if user_id == FORGOTTEN_USER:
            return i18n.render(FORGOTTEN, locale)
        member = guild.get_member(user_id) if guild else None
        if member:
            return member.display_name
        return i18n.render(t("member {id}", id=str(user_id)), locale)

    top = [(name(r.user_id), r.generations) for r in rows if r.generations][:8]
    png = await asyncio.to_thread(charts.usage_chart, days, top, title(label), locale)
    return discord.File(io.BytesIO(png), filename=CHART_NAME)
