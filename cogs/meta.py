"""`/flux-help`: what the bot does and how to use it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot.i18n import Text, render, t, tn

if TYPE_CHECKING:
    from app.bot import FluxBot

FLUX_OPTIONS = (
    "prompt",
    "resolution",
    "aspect_ratio",
    "image",
    "strength",
    "format",
    "quality",
    "upsample",
    "seed",
    "private",
    "preset",
)
HELP = t(
    "I turn your words into images with **FLUX.2 [max]** by Black Forest Labs.\n\n"
    "**/flux** `{prompt}` — generate an image. Options: `{resolution}` (0.5–4 MP),"
    " `{aspect_ratio}`, `{image}` + `{strength}` (a reference picture), `{format}`, `{quality}`,"
    " `{upsample}`, `{seed}` (reuse it to reproduce a result), `{private}` (only you see it)"
    " and `{preset}`.\n"
    "Under each image: **Upscale**, **Vary**, **Zoom Out**, **Make Square**, **Pan**,"
    " **Reroll** (new seed), **Edit prompt** and **Delete** (yours only).\n"
    "While a job waits in line, **Cancel** drops it; nothing is counted.\n"
    "**/flux-settings** — your own defaults for the options you leave out, and presets"
    " (defaults plus a prompt suffix) for `/flux {preset}:`; per server, only you see them.\n"
    "**/flux-history** — your images here, newest first; **Show** posts one again for you,"
    " **Share** posts it in the channel.\n"
    "**/flux-inbox** — your images that couldn't be posted: private ones that finished after"
    " your command expired, or ones Discord refused.\n"
    "**/flux-usage** — how many images you have used and have left.\n"
    "**/flux-forget-me** — delete what I keep about you (below).\n\n"
    "Only finished images count towards any limits; failed attempts are never counted.",
    # The options by the names Discord shows the reader.
    **{name: t(name) for name in FLUX_OPTIONS},
)


def privacy(history_days: int) -> Text:
    """What is stored, where, for how long, and how to delete it (within 1024 characters in
    every language: test_corner checks)."""
    return tn(
        "**What**: for each image, your prompt, its options and seed, the Apiframe link to the"
        " picture, and the ids of you, the server and the channel; your defaults and presets."
        " **Where**: this bot's own database, run by whoever hosts it; the images are made by"
        " Apiframe, which keeps them about a day. Moderators see prompts in the audit log"
        " channel, if the server has one (the server's messages: forgetting leaves them)."
        " **How long**: prompts and links for {count}"
        " day, then only the numbers (how many images, what kind, what they cost) for usage"
        " totals and budgets. **Delete**: `/flux-forget-me` removes your prompts, history,"
        " defaults and presets everywhere (the numbers stay, so limits stay fair);"
        " `/flux-settings reset` and `preset delete` remove just those; 🗑️ under an image"
        " deletes that post.",
        "**What**: for each image, your prompt, its options and seed, the Apiframe link to the"
        " picture, and the ids of you, the server and the channel; your defaults and presets."
        " **Where**: this bot's own database, run by whoever hosts it; the images are made by"
        " Apiframe, which keeps them about a day. Moderators see prompts in the audit log"
        " channel, if the server has one (the server's messages: forgetting leaves them)."
        " **How long**: prompts and links for {count}"
        " days, then only the numbers (how many images, what kind, what they cost) for usage"
        " totals and budgets. **Delete**: `/flux-forget-me` removes your prompts, history,"
        " defaults and presets everywhere (the numbers stay, so limits stay fair);"
        " `/flux-settings reset` and `preset delete` remove just those; 🗑️ under an image"
        " deletes that post.",
        history_days,
    )


def help_embed(history_days: int, locale: object = None) -> discord.Embed:
    """/flux-help in the language of `locale`."""
    embed = discord.Embed(
        title=render(t("FLUX.2 [max] image bot"), locale), description=render(HELP, locale)
    )
    embed.add_field(
        name=render(t("What I keep about you"), locale),
        value=render(privacy(history_days), locale),
        inline=False,
    )
    return embed


class Meta(commands.Cog):
    def __init__(self, bot: FluxBot) -> None:
        self.bot = bot

    @app_commands.command(name=_T("flux-help"), description=_T("How to use the image bot"))
    async def flux_help(self, interaction: discord.Interaction[FluxBot]) -> None:
        embed = help_embed(self.bot.settings.history_days, interaction.locale)
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: FluxBot) -> None:
    await bot.add_cog(Meta(bot))
