"""How a /flux-admin change is made and told: the policy edited under the guild's lock, the
moderator answered in their language, the audit log told in the server's."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.i18n import Renderable, t
from bot.moderation.policy import GuildPolicy
from bot.storage.guilds import PolicyRefused
from cogs import audit
from cogs.admin import _format
from cogs.admin._terms import MAX_WORDS, TERM_HELP, added, term
from cogs.i18n import say, server_language

if TYPE_CHECKING:
    from app.bot import FluxBot


def refusal(refused: PolicyRefused) -> Renderable:
    """What a refused edit says: the `Text` it was raised with, else its English."""
    reason = refused.args[0] if refused.args else ""
    return reason if isinstance(reason, Renderable) else str(reason)


class Editing:
    """The plumbing every /flux-admin subcommand that changes the policy shares."""

    bot: FluxBot

    async def _change(self, interaction: discord.Interaction[FluxBot], **changes: Any) -> None:
        await self._edit(interaction, lambda _: changes)

    async def _update(
        self, interaction: discord.Interaction[FluxBot], field: str, edit: Any
    ) -> None:
        """Change one collection field with `edit(old) -> new`."""
        await self._edit(interaction, lambda policy: {field: edit(getattr(policy, field))})

    async def _edit(
        self,
        interaction: discord.Interaction[FluxBot],
        edit: Callable[[GuildPolicy], dict[str, Any]],
    ) -> None:
        """Apply `edit` to the policy as stored, under the guild's lock (see GuildStore.edit)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = interaction.guild_id or 0
        try:
            change = await self.bot.guild_store.edit(guild_id, self.bot.policy_defaults, edit)
        except PolicyRefused as refused:
            await interaction.edit_original_response(content=say(interaction, refusal(refused)))
            return
        await self._report(interaction, change.before, change.after)

    async def _report(
        self, interaction: discord.Interaction[FluxBot], before: GuildPolicy, after: GuildPolicy
    ) -> None:
        """Tell the moderator what changed, in their language, and the audit log, in the
        server's (as it is after the change)."""
        mine = _format.diff(before, after, interaction.locale)
        if not mine:
            await interaction.edit_original_response(
                content=say(interaction, _format.NOTHING_CHANGED)
            )
            return
        reply = t("Changed:\n{changes}", changes=_format.change_lines(mine))
        await interaction.edit_original_response(content=audit.clip(say(interaction, reply), 2000))
        everyone = server_language(interaction.guild, after.language)
        entry = audit.change_entry(
            user_id=interaction.user.id,
            changes=_format.diff(before, after, everyone),
            when=interaction.created_at,
        )
        await self.bot.audit.record(interaction.guild_id, entry)

    async def _add_term(
        self, interaction: discord.Interaction[FluxBot], field: str, text: str
    ) -> None:
        word = term(text)
        if word is None:
            await self._tell(interaction, TERM_HELP)
            return
        await self._update(interaction, field, lambda old: added(old, word, MAX_WORDS))

    async def _tell(self, interaction: discord.Interaction[FluxBot], message: Renderable) -> None:
        await interaction.response.send_message(say(interaction, message), ephemeral=True)
