"""`/flux-usage`: a member's own images used and left, privately."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot.i18n import Renderable, Text, t
from bot.jobs.describe import kinds_summary
from bot.moderation import gate
from cogs import audit
from cogs.i18n import say

if TYPE_CHECKING:
    from app.bot import FluxBot


class UsageCommand(commands.Cog):
    """`/flux-usage`: a member's own images used and left."""

    def __init__(self, bot: FluxBot) -> None:
        self.bot = bot

    @app_commands.command(name=_T("flux-usage"), description=_T("Your images used and left"))
    async def flux_usage(self, interaction: discord.Interaction[FluxBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        now = discord.utils.utcnow()
        member = interaction.user
        roles = frozenset(r.id for r in getattr(member, "roles", ()))
        policy = await self.bot.guild_policy(interaction.guild_id)
        tier = policy.tier_for(roles)
        used = await self.bot.guild_store.usage(interaction.guild_id, member.id, now)
        cooldown = policy.cooldown_seconds
        ready = (
            used.last_started_at + timedelta(seconds=cooldown)
            if used.last_started_at and cooldown
            else None
        )
        if ready and ready > now:
            waiting = t("ready {when}", when=discord.utils.format_dt(ready, "R"))
        elif cooldown:
            waiting = t("ready now ({seconds} s between images)", seconds=cooldown)
        else:
            waiting = t("none")
        mine = await self.bot.guild_store.report(
            interaction.guild_id, gate.month_start(now), now + timedelta(seconds=1), member.id
        )
        fields: list[tuple[Text, Renderable, bool]] = [
            (t("Today"), _quota(used.today, tier.per_day, gate.next_day(now)), True),
            (
                t("This month"),
                _quota(used.this_month, tier.per_month, gate.next_month(now)),
                True,
            ),
            (t("Cooldown"), waiting, True),
            (
                t("On the way"),
                t(
                    "{in_flight} of {most} at once",
                    in_flight=used.in_flight,
                    most=policy.jobs_per_member,
                ),
                True,
            ),
        ]
        if kinds := kinds_summary((r.by_kind for r in mine), interaction.locale):
            fields.append((t("This month by kind"), kinds, False))
        embed = discord.Embed(
            title=say(interaction, t("Your image usage")), colour=audit.COLOUR_CHANGE
        )
        for name, value, inline in fields:
            embed.add_field(
                name=say(interaction, name), value=say(interaction, value), inline=inline
            )
        footer = t("Only finished images count; failed ones are never counted.")
        embed.set_footer(text=say(interaction, footer))
        await interaction.edit_original_response(embed=embed)


def _quota(used: int, limit: int | None, resets: datetime) -> Text:
    if limit is None:
        return t("{used} used, no limit", used=used)
    return t(
        "{used} of {limit} used, **{left} left**; resets {when}",
        used=used,
        limit=limit,
        left=max(0, limit - used),
        when=discord.utils.format_dt(resets, "R"),
    )


async def setup(bot: FluxBot) -> None:
    await bot.add_cog(UsageCommand(bot))
