"""A member's defaults and presets on the way into a new job: read before the first answer
(whether it is private decides how the command is acknowledged), within a time limit so the
answer is never late."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import discord
from discord.app_commands import Choice

from bot.i18n import Renderable, Text, render, t
from bot.jobs.defaults import MemberDefaults, Preset, describe
from bot.jobs.presenter import DeliveryError, Progress, Stage
from cogs.i18n import say

if TYPE_CHECKING:
    from app.bot import FluxBot
    from bot.storage.jobs import JobRecord

log = logging.getLogger(__name__)

# Discord drops a command not answered within 3 s: the read gets at most this much of it.
PROFILE_SECONDS = 1.5
UNREADABLE = t("I couldn't read your presets just now; please try again in a moment.")
NO_DEFAULTS: tuple[MemberDefaults, Preset | None] = (MemberDefaults(), None)


def missing_preset(name: str) -> Text:
    """The member named a preset they do not have here."""
    return t(
        "You have no preset called “{name}” here; `/flux-settings preset list` shows yours.",
        name=discord.utils.escape_markdown(name),
    )


def no_such_preset(name: str, locale: object = None) -> str:
    """`missing_preset` in the language of `locale`."""
    return render(missing_preset(name), locale)


async def member_profile(
    interaction: discord.Interaction[FluxBot], preset: str | None = None
) -> tuple[MemberDefaults, Preset | None] | Text:
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
        return missing_preset(preset)
    return defaults, found


async def member_defaults(interaction: discord.Interaction[FluxBot]) -> MemberDefaults:
    """The member's defaults in this server (none when they cannot be read in time)."""
    profile = await member_profile(interaction)
    return NO_DEFAULTS[0] if isinstance(profile, Text) else profile[0]


def preset_summary(preset: Preset, limit: int = 100, *, locale: object = None) -> str:
    """ "cinema — Aspect 16:9 · Format PNG + “35 mm film”", within `limit` characters, in the
    language of `locale`."""
    parts = [
        f"{render(label, locale)} {render(value, locale)}"
        for label, value in describe(preset.defaults)
    ]
    text = " · ".join(parts)
    if preset.suffix:
        text = f"{text} + “{preset.suffix}”" if text else f"+ “{preset.suffix}”"
    line = f"{preset.name} — {text}" if text else preset.name
    return line if len(line) <= limit else line[: limit - 1] + "…"


async def preset_choices(
    interaction: discord.Interaction[FluxBot], current: str
) -> list[Choice[str]]:
    """The member's presets here whose name holds what they typed, for autocomplete (which
    must answer within 3 s, and never with an error message: nothing on failure)."""
    if interaction.guild_id is None:
        return []
    try:
        async with asyncio.timeout(PROFILE_SECONDS):
            presets = await interaction.client.services.members.presets(
                interaction.guild_id, interaction.user.id
            )
    except Exception:  # a slow or failing database: no suggestions, not an error
        log.warning("member %s: presets not read for autocomplete", interaction.user.id)
        return []
    typed = current.casefold().strip()
    return [
        Choice(name=preset_summary(preset, locale=interaction.locale), value=preset.name)
        for preset in presets
        if typed in preset.name.casefold()
    ][:25]


async def tell_member(
    interaction: discord.Interaction[FluxBot], job: JobRecord | None, text: Renderable
) -> None:
    """Say `text` to the member only, in their language, beside the job's message. Discord
    turns a follow-up right after a defer into the "thinking…" message itself: that gets its
    first progress first."""
    if job is not None:
        with contextlib.suppress(DeliveryError):
            await interaction.client.driver.presenter.show_progress(
                job, Progress(stage=Stage.WAITING)
            )
    await interaction.followup.send(say(interaction, text), ephemeral=True)
