"""The one error path of every interaction: slash commands and context menus (through the
command tree), buttons, selects and modals all end here.

The member gets a short apology with an error id, privately; the log gets the same id with the
traceback. The exception's text is never shown: it may hold internals (URLs, SQL, ids).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import discord
from discord import app_commands, ui

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on my side (error id `{error_id}`)."
NOT_HERE = "You can't use this command here."


def _where(interaction: discord.Interaction[Any]) -> str:
    if interaction.command is not None:
        return f"command {interaction.command.qualified_name}"
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = data.get("custom_id")
    return f"{interaction.type.name} {custom_id}" if custom_id else interaction.type.name


async def report(interaction: discord.Interaction[Any], error: BaseException) -> str | None:
    """Tell the member, and log, that handling `interaction` failed; the error id, or None
    for a check that refused (its message is meant for the member)."""
    original = getattr(error, "original", error)  # CommandInvokeError wraps the real one
    if isinstance(error, app_commands.CheckFailure):
        await answer(interaction, str(error) or NOT_HERE)
        return None
    error_id = uuid.uuid4().hex[:8]
    log.error("%s failed (error id %s)", _where(interaction), error_id, exc_info=original)
    if interaction.type is discord.InteractionType.autocomplete:
        return error_id  # its only answer is a list of choices: no message to say sorry in
    await answer(interaction, APOLOGY.format(error_id=error_id))
    return error_id


async def answer(interaction: discord.Interaction[Any], message: str) -> None:
    """Say `message` to the member only; if the interaction can no longer be answered (its
    token expired, or it was never acknowledged in time), say it in the channel instead."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(message, ephemeral=True)
            return
        if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            original = await interaction.original_response()
            if original.flags.loading:
                # A follow-up would fill the "thinking…" message, in public if that was.
                await interaction.delete_original_response()
        await interaction.followup.send(message, ephemeral=True)
        return
    except discord.HTTPException as exc:
        log.info("could not answer the interaction (%s); trying the channel", exc)
    channel = interaction.channel
    if not isinstance(channel, discord.abc.Messageable):
        return
    member = interaction.user
    try:
        await channel.send(
            f"{member.mention} {message}",
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=[member]),
        )
    except discord.HTTPException as exc:
        log.warning("could not tell %s about the failure either (%s)", member.id, exc)


ItemT = TypeVar("ItemT", bound=ui.Item[Any])
Callback = Callable[[ItemT, discord.Interaction[Any]], Awaitable[None]]


def guarded(callback: Callback[ItemT]) -> Callback[ItemT]:
    """For the `callback` of a dynamic item: discord.py only logs what those raise, and the
    member would see "This interaction failed"."""

    @functools.wraps(callback)
    async def run(item: ItemT, interaction: discord.Interaction[Any]) -> None:
        try:
            await callback(item, interaction)
        except Exception as exc:
            await report(interaction, exc)

    run.__guarded__ = True  # type: ignore[attr-defined]
    return run


class View(ui.View):
    """A view whose items' errors take the one error path."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: ui.Item[Any], /
    ) -> None:
        await report(interaction, error)


class Modal(ui.Modal):
    """A modal whose submission errors take the one error path."""

    # discord.py's stubs give Modal.on_error the view's signature; this is the one it calls.
    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:  # type: ignore[override]
        await report(interaction, error)
