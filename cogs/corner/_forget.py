"""`/flux-forget-me`: after a confirmation, the bot removes what a member keeps with it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands, ui
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot.storage.history import Forgotten
from bot.text import counted
from cogs import _errors as errors

if TYPE_CHECKING:
    from app.bot import FluxBot

CONFIRM = (
    "**Forget me?** In every server, I will delete the prompts and image links of all your"
    " images (your `/flux-history` and `/flux-inbox` empty), your defaults and your presets."
    " This cannot be undone.\n\n"
    "What stays, as numbers without your prompts: how many images you made, of what kind, and"
    " what they cost, so the servers' usage totals and budgets stay right. This month's count"
    " keeps your user id until the month is over (forgetting does not reset your limits), then"
    " that goes too. Images already posted in channels are Discord messages: delete them with"
    " their 🗑️ button first if you want them gone."
)
NOT_YOURS = "This is another member's confirmation; run `/flux-forget-me` for your own."
KEPT = "Nothing was deleted."


def summary(done: Forgotten) -> str:
    """What was removed, or why nothing was."""
    if done.busy:
        return (
            f"You have {counted(done.busy, 'image')} still on the way, which need their prompts"
            " to be posted: nothing was deleted. Run `/flux-forget-me` again once"
            f" {'it has' if done.busy == 1 else 'they have'} arrived."
        )
    servers = counted(done.defaults, "server")
    return (
        f"Done. I deleted the prompts and image links of {counted(done.jobs, 'image')}, your"
        f" defaults in {servers} and {counted(done.presets, 'preset')}. Only the numbers stay"
        " (see above); your next image starts a new history."
    )


class ForgetButton(
    ui.DynamicItem[ui.Button[Any]],
    template=r"flux:forget:(?P<answer>yes|no):(?P<user>\d{1,20})",
):
    """The answer to the confirmation: only the member who asked may give it."""

    def __init__(self, answer: str, user_id: int) -> None:
        yes = answer == "yes"
        super().__init__(
            ui.Button(
                label="Forget me" if yes else "Keep everything",
                style=discord.ButtonStyle.danger if yes else discord.ButtonStyle.secondary,
                custom_id=f"flux:forget:{answer}:{user_id}",
            )
        )
        self.answer, self.user_id = answer, user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> ForgetButton:
        return cls(match["answer"], int(match["user"]))

    @errors.guarded
    async def callback(self, interaction: discord.Interaction[FluxBot]) -> None:  # type: ignore[override]
        if interaction.user.id != self.user_id:
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return
        if self.answer == "no":
            await interaction.response.edit_message(content=KEPT, view=None)
            return
        await interaction.response.defer()  # the confirmation is "@original" now
        done = await interaction.client.services.history.forget(
            self.user_id, discord.utils.utcnow()
        )
        await interaction.edit_original_response(content=summary(done), view=None)


class ForgetMe(commands.Cog):
    """`/flux-forget-me`."""

    def __init__(self, bot: FluxBot) -> None:
        self.bot = bot

    @app_commands.command(
        name=_T("flux-forget-me"),
        description=_T("Delete your prompts, history, defaults and presets"),
    )
    async def forget_me(self, interaction: discord.Interaction[FluxBot]) -> None:
        view = errors.View(timeout=None)
        view.add_item(ForgetButton("yes", interaction.user.id))
        view.add_item(ForgetButton("no", interaction.user.id))
        await interaction.response.send_message(CONFIRM, view=view, ephemeral=True)
