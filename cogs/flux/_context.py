"""What a job needs to know about the interaction that asked for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

if TYPE_CHECKING:
    from app.bot import FluxBot


def job_context(
    interaction: discord.Interaction[FluxBot],
    callback: discord.InteractionCallbackResponse[FluxBot] | None,
    *,
    private: bool,
    fallback_channel_id: int = 0,
) -> dict[str, Any]:
    """The Discord fields of a new job, as plain values for the core."""
    return {
        "user_id": interaction.user.id,
        "channel_id": interaction.channel_id or fallback_channel_id,
        "guild_id": interaction.guild_id,
        "application_id": interaction.application_id,
        "interaction_id": interaction.id,
        "interaction_token": interaction.token,
        "token_expires_at": interaction.expires_at,
        "response_message_id": callback.message_id if callback else None,
        "private": private,
        "locale": str(interaction.locale),
        "upload_limit": interaction.filesize_limit,
    }
