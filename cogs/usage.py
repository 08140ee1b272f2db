"""`/flux-usage`: a member's own images used and left, privately."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot.jobs.describe import kinds_summary
from bot.moderation import gate
from cogs import audit

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
        embed = discord.Embed(title="Your image usage", colour=audit.COLOUR_CHANGE)
        embed.add_field(name="Today", value=_quota(used.today, tier.per_day, gate.next_day(now)))
        embed.add_field(
            name="This month", value=_quota(used.this_month, tier.per_month, gate.next_month(now))
        )
        ready = (
            used.last_started_at + timedelta(seconds=policy.cooldown_seconds)
            if used.last_started_at and policy.cooldown_seconds
            else None
        )
        embed.add_field(
            name="Cooldown",
            value=(
                f"ready {discord.utils.format_dt(ready, 'R')}"
                if ready and ready > now
                else f"ready now ({policy.cooldown_seconds} s between images)"
                if policy.cooldown_seconds
                else "none"
            ),
        )
        embed.add_field(
            name="On the way", value=f"{used.in_flight} of {policy.jobs_per_member} at once"
        )
        mine = await self.bot.guild_store.report(
            interaction.guild_id, gate.month_start(now), now + timedelta(seconds=1), member.id
        )
        if kinds := kinds_summary((r.by_kind for r in mine), interaction.locale):
            embed.add_field(name="This month by kind", value=kinds, inline=False)
        embed.set_footer(text="Only finished images count; failed ones are never counted.")
        await interaction.edit_original_response(embed=embed)


def _quota(used: int, limit: int | None, resets: datetime) -> str:
    if limit is None:
        return f"{used} used, no limit"
    left = max(0, limit - used)
    return f"{used} of {limit} used, **{left} left**; resets {discord.utils.format_dt(resets, 'R')}"


async def setup(bot: FluxBot) -> None:
    await bot.add_cog(UsageCommand(bot))
