"""Budget announcements in the audit channel: a warning at the set percentage and a notice when
the month's budget is used up, each at most once a month per guild."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from cogs import audit

if TYPE_CHECKING:
    from app.bot import FluxBot


async def announce(bot: FluxBot, guild_id: int) -> None:
    """Post the warning or the stop notice if the guild's spend has crossed a line and it was
    not announced yet this month. Stopped means not even the cheapest image fits any more; a
    refusal while big jobs are reserved is not a stop."""
    policy = await bot.guild_policy(guild_id)
    budget = policy.monthly_budget
    if budget is None or policy.audit_channel_id is None:
        return
    now = discord.utils.utcnow()
    spent = await bot.guild_store.guild_credits(guild_id, now)
    percent = 100 if budget == 0 else min(999, spent * 100 // budget)
    month = now.strftime("%Y-%m")
    stopped = budget - spent < max(1, bot.settings.credits_first_mp)
    if stopped and await bot.guild_store.mark_budget(guild_id, month, "stopped"):
        await bot.audit.record(
            guild_id, audit.budget_entry(percent=percent, spent=spent, budget=budget, stopped=True)
        )
    elif percent >= policy.budget_warn_percent and await bot.guild_store.mark_budget(
        guild_id, month, "warned"
    ):
        await bot.audit.record(
            guild_id, audit.budget_entry(percent=percent, spent=spent, budget=budget, stopped=False)
        )
