"""The one error path of every interaction: slash commands and context menus (through the
command tree), buttons, selects and modals all end here.

The member gets a short apology with an error id, privately and in their language; the log gets
the same id with the traceback. The exception's text is never shown: it may hold internals
(URLs, SQL, ids).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import discord
from discord import app_commands, ui

from bot.i18n import Renderable, Text, render, t
from cogs.i18n import server_language

log = logging.getLogger(__name__)

POLICY_SECONDS = 1.5  # the language of a post is not worth a longer wait for the database
NOT_HERE = t("You can't use this command here.")


def apology(error_id: str) -> Text:
    return t("Sorry, something went wrong on my side (error id `{error_id}`).", error_id=error_id)


def _where(interaction: discord.Interaction[Any]) -> str:
    if interaction.command is not None:
        return f"command {interaction.command.qualified_name}"  # i18n: not shown (logs)
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = data.get("custom_id")
    return f"{interaction.type.name} {custom_id}" if custom_id else interaction.type.name


async def report(interaction: discord.Interaction[Any], error: BaseException) -> str | None:
    """Tell the member, and log, that handling `interaction` failed; the error id, or None
    for a check that refused (its message is meant for the member)."""
    original = getattr(error, "original", error)  # CommandInvokeError wraps the real one
    if isinstance(error, app_commands.CheckFailure):
        # A check may refuse with a `Text` (in the member's language) or plain words.
        reason = error.args[0] if error.args and isinstance(error.args[0], Text) else str(error)
        await answer(interaction, reason or NOT_HERE)
        return None
    error_id = uuid.uuid4().hex[:8]
    log.error("%s failed (error id %s)", _where(interaction), error_id, exc_info=original)
    if interaction.type is discord.InteractionType.autocomplete:
        return error_id  # its only answer is a list of choices: no message to say sorry in
    await answer(interaction, apology(error_id))
    return error_id


async def answer(interaction: discord.Interaction[Any], message: Renderable) -> None:
    """Say `message` to the member only, in their language; if the interaction can no longer
    be answered (its token expired, or it was never acknowledged in time), say it in the
    channel instead, in the server's language (everyone there reads it)."""
    private = render(message, getattr(interaction, "locale", None))
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(private, ephemeral=True)
            return
        if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            original = await interaction.original_response()
            if original.flags.loading:
                # A follow-up would fill the "thinking…" message, in public if that was.
                await interaction.delete_original_response()
        await interaction.followup.send(private, ephemeral=True)
        return
    except discord.HTTPException as exc:
        log.info("could not answer the interaction (%s); trying the channel", exc)
    channel = interaction.channel
    if not isinstance(channel, discord.abc.Messageable):
        return
    member = interaction.user
    try:
        public = render(message, await _channel_language(interaction))
        await channel.send(
            f"{member.mention} {public}",
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=[member]),
        )
    except discord.HTTPException as exc:
        log.warning("could not tell %s about the failure either (%s)", member.id, exc)


async def _channel_language(interaction: discord.Interaction[Any]) -> str:
    """The server's language for a post in its channel; its Community language when its
    policy (which may be what failed) cannot be read."""
    guild = getattr(interaction, "guild", None)
    chosen = None
    policy_of = getattr(interaction.client, "guild_policy", None) if guild else None
    if policy_of is not None:
        try:
            async with asyncio.timeout(POLICY_SECONDS):
                chosen = (await policy_of(guild.id)).language  # type: ignore[union-attr]
        except Exception:  # the error path must not fail in turn
            log.warning("could not read the policy of guild %s", getattr(guild, "id", None))
    return server_language(guild, chosen)


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
