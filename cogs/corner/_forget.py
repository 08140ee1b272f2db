"""`/flux-forget-me`: after a confirmation, the bot removes what a member keeps with it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands, ui
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot.i18n import Text, t, tn
from bot.storage.history import Forgotten
from cogs import _errors as errors
from cogs.i18n import say

if TYPE_CHECKING:
    from app.bot import FluxBot

CONFIRM = t(
    "**Forget me?** In every server, I will delete the prompts and image links of all your"
    " images (your `/flux-history` and `/flux-inbox` empty), your defaults and your presets."
    " This cannot be undone.\n\n"
    "What stays, as numbers without your prompts: how many images you made, of what kind, and"
    " what they cost, so the servers' usage totals and budgets stay right. This month's count"
    " keeps your user id until the month is over (forgetting does not reset your limits), then"
    " that goes too. Images already posted in channels are Discord messages: delete them with"
    " their 🗑️ button first if you want them gone."
)
NOT_YOURS = t("This is another member's confirmation; run `/flux-forget-me` for your own.")
KEPT = t("Nothing was deleted.")


def summary(done: Forgotten) -> Text:
    """What was removed, or why nothing was."""
    if done.busy:
        return tn(
            "You have {count} image still on the way, which need their prompts to be posted:"
            " nothing was deleted. Run `/flux-forget-me` again once it has arrived.",
            "You have {count} images still on the way, which need their prompts to be posted:"
            " nothing was deleted. Run `/flux-forget-me` again once they have arrived.",
            done.busy,
        )
    # TRANSLATORS: {images}, {defaults} and {presets} are the three phrases below.
    return t(
        "Done. I deleted {images}, {defaults} and {presets}. Only the numbers stay (see"
        " above); your next image starts a new history.",
        # TRANSLATORS: what was deleted, inside "Done. I deleted {images}, …".
        images=tn(
            "the prompts and image links of {count} image",
            "the prompts and image links of {count} images",
            done.jobs,
        ),
        # TRANSLATORS: what was deleted, inside "Done. I deleted …, {defaults} and …".
        defaults=tn(
            "your defaults in {count} server",
            "your defaults in {count} servers",
            done.defaults,
        ),
        # TRANSLATORS: what was deleted, inside "Done. I deleted …, … and {presets}".
        presets=tn(
            "{count} preset",
            "{count} presets",
            done.presets,
        ),
    )


class ForgetButton(
    ui.DynamicItem[ui.Button[Any]],
    template=r"flux:forget:(?P<answer>yes|no):(?P<user>\d{1,20})",  # i18n: not shown (an id)
):
    """The answer to the confirmation: only the member who asked may give it."""

    def __init__(self, answer: str, user_id: int, locale: object = None) -> None:
        yes = answer == "yes"
        label = t("Forget me") if yes else t("Keep everything")
        super().__init__(
            ui.Button(
                label=label.render(locale),
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
            await interaction.response.send_message(say(interaction, NOT_YOURS), ephemeral=True)
            return
        if self.answer == "no":
            await interaction.response.edit_message(content=say(interaction, KEPT), view=None)
            return
        await interaction.response.defer()  # the confirmation is "@original" now
        done = await interaction.client.services.history.forget(
            self.user_id, discord.utils.utcnow()
        )
        await interaction.edit_original_response(content=say(interaction, summary(done)), view=None)


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
        view.add_item(ForgetButton("yes", interaction.user.id, interaction.locale))
        view.add_item(ForgetButton("no", interaction.user.id, interaction.locale))
        await interaction.response.send_message(
            say(interaction, CONFIRM), view=view, ephemeral=True
        )
