"""A member's defaults and presets on the way into a new job: read before the first answer
(whether it is private decides how the command is acknowledged), within a time limit so the
answer is never late."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import discord

from bot.jobs.defaults import MemberDefaults, Preset
from bot.jobs.presenter import DeliveryError, Progress, Stage

if TYPE_CHECKING:
    from app.bot import FluxBot
    from bot.storage.jobs import JobRecord

log = logging.getLogger(__name__)

# Discord drops a command not answered within 3 s: the read gets at most this much of it.
PROFILE_SECONDS = 1.5
UNREADABLE = "I couldn't read your presets just now; please try again in a moment."
NO_DEFAULTS: tuple[MemberDefaults, Preset | None] = (MemberDefaults(), None)


def no_such_preset(name: str) -> str:
    return (
        f"You have no preset called “{discord.utils.escape_markdown(name)}” here;"
        " `/flux-settings preset list` shows yours."
    )


async def member_profile(
    interaction: discord.Interaction[FluxBot], preset: str | None = None
) -> tuple[MemberDefaults, Preset | None] | str:
    """The member's defaults in this server and the preset they named, or a message for
    them (the preset does not exist or could not be read). Without a preset, a slow database
    costs only the defaults (the command goes on without them)."""
    if interaction.guild_id is None:
        return NO_DEFAULTS
    members = interaction.client.services.members
    try:
        async with asyncio.timeout(PROFILE_SECONDS):
            defaults, found = await members.profile(
                interaction.guild_id, interaction.user.id, preset
            )
    except TimeoutError:
        log.warning("member %s: defaults not read in time", interaction.user.id)
        return UNREADABLE if preset else NO_DEFAULTS
    if preset and found is None:
        return no_such_preset(preset)
    return defaults, found


async def member_defaults(interaction: discord.Interaction[FluxBot]) -> MemberDefaults:
    """The member's defaults in this server (none when they cannot be read in time)."""
    profile = await member_profile(interaction)
    return NO_DEFAULTS[0] if isinstance(profile, str) else profile[0]


async def tell_member(
    interaction: discord.Interaction[FluxBot], job: JobRecord | None, text: str
) -> None:
    """Say `text` to the member only, beside the job's message. Discord turns a follow-up
    right after a defer into the "thinking…" message itself: that gets its first progress
    first."""
    if job is not None:
        with contextlib.suppress(DeliveryError):
            await interaction.client.driver.presenter.show_progress(
                job, Progress(stage=Stage.WAITING)
            )
    await interaction.followup.send(text, ephemeral=True)
