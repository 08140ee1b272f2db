"""`/flux-help`: what the bot does and how to use it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T
from discord.ext import commands

if TYPE_CHECKING:
    from app.bot import FluxBot

HELP = (
    "I turn your words into images with **FLUX.2 [max]** by Black Forest Labs.\n\n"
    "**/flux** `prompt` — generate an image. Options: `resolution` (0.5–4 MP), `aspect_ratio`,"
    " `image` + `strength` (a reference picture), `format`, `quality`, `upsample`, `seed`"
    " (reuse it to reproduce a result) and `private` (only you see it).\n"
    "Under each image: **Reroll** (new seed), **Vary** (a variation of it), **Upscale**"
    " (the same picture at 4 MP), **Edit prompt** and **Delete** (yours only).\n"
    "While a job waits in line, **Cancel** drops it; nothing is counted.\n"
    "**/flux-inbox** — your images that couldn't be posted: private ones that finished after"
    " your command expired, or ones Discord refused.\n"
    "**/flux-usage** — how many images you have used and have left.\n\n"
    "Only finished images count towards any limits; failed attempts are never counted."
)
PRIVACY = (
    "Your prompt and options are stored with the job so buttons keep working and moderators"
    " can review use. Images are made by Apiframe's service."
)


class Meta(commands.Cog):
    def __init__(self, bot: FluxBot) -> None:
        self.bot = bot

    @app_commands.command(name=_T("flux-help"), description=_T("How to use the image bot"))
    async def flux_help(self, interaction: discord.Interaction[FluxBot]) -> None:
        embed = discord.Embed(title="FLUX.2 [max] image bot", description=HELP)
        embed.add_field(name="Privacy", value=PRIVACY, inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: FluxBot) -> None:
    await bot.add_cog(Meta(bot))
