"""Who may use /flux-admin: checked on every use, whatever the command's visibility says."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.i18n import t
from cogs.i18n import say

if TYPE_CHECKING:
    from app.bot import FluxBot


class NotAllowed(app_commands.CheckFailure):
    """A refusal whose message is already in the member's language."""


async def is_manager(interaction: discord.Interaction[FluxBot]) -> bool:
    """Manage Server, or a role the admins made a manager role. Checked on every use, whatever
    the command's visibility says (admins can change that under Integrations)."""
    member = interaction.user
    if interaction.guild_id is None or not isinstance(member, discord.Member):
        raise NotAllowed(say(interaction, t("This command only works in a server.")))
    if member.guild_permissions.manage_guild:
        return True
    policy = await interaction.client.guild_policy(interaction.guild_id)
    if any(role.id in policy.manager_roles for role in member.roles):
        return True
    raise NotAllowed(
        say(
            interaction,
            t("You need the Manage Server permission (or a bot manager role) for this."),
        )
    )


async def is_admin(interaction: discord.Interaction[FluxBot]) -> bool:
    member = interaction.user
    if isinstance(member, discord.Member) and member.guild_permissions.manage_guild:
        return True
    raise NotAllowed(
        say(
            interaction,
            t("Only members with the Manage Server permission can change manager roles."),
        )
    )


manager_only = app_commands.check(is_manager)
admin_only = app_commands.check(is_admin)
