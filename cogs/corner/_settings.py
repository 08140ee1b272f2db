"""`/flux-settings`: a member's own defaults for /flux in this server, and their presets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot.i18n import Renderable, Text, render, t
from bot.jobs.defaults import (
    MEMBER_DEFAULTS,
    PRESET_NAME_MAX,
    SUFFIX_MAX,
    MemberDefaults,
    Preset,
    PresetRefused,
    cap,
    describe,
    preset_name,
    suffix_text,
)
from bot.jobs.describe import resolution_label
from bot.jobs.request import DEFAULT_ASPECT_RATIO, DEFAULT_FORMAT, Generate
from cogs import audit
from cogs.flux import ASPECT_CHOICES, FORMAT_CHOICES, RESOLUTION_CHOICES
from cogs.flux._defaults import no_such_preset, preset_choices, preset_summary
from cogs.i18n import names, say

if TYPE_CHECKING:
    from app.bot import FluxBot

NOTHING_GIVEN = t(
    "Give at least one option to set, such as `/flux-settings set resolution:2 MP`;"
    " `/flux-settings reset` clears them all."
)
FOOTER = t("An option you type in /flux always wins. Only you see these, only in this server.")
NOTHING_TO_SAVE = t(
    "Nothing to save yet: set some defaults with `/flux-settings set`, or give a `{suffix}`.",
    suffix=t("suffix"),  # by the name Discord shows the member
)
NO_PRESETS = t("You have no presets here yet: `/flux-settings preset save` makes one.")
# /flux's options (names() gives them the names /flux has in each language)
SET_OPTIONS = (
    "resolution",
    "aspect_ratio",  # i18n: not shown (parameter ids)
    "format",
    "quality",
    "upsample",
    "private",
)
SAVED = t("Your defaults are saved")
SHOWN = t("Your defaults in this server")


def _fields(embed: discord.Embed, defaults: MemberDefaults, locale: object) -> int:
    """One field per option set; how many."""
    shown = describe(defaults)
    for label, value in shown:
        embed.add_field(name=render(label, locale), value=render(value, locale))
    return len(shown)


def preset_embed(title: Renderable, preset: Preset, locale: object = None) -> discord.Embed:
    embed = discord.Embed(title=render(title, locale), colour=audit.COLOUR_CHANGE)
    _fields(embed, preset.defaults, locale)
    if preset.suffix:
        embed.add_field(
            name=render(t("Prompt suffix"), locale),
            value=discord.utils.escape_markdown(preset.suffix),
            inline=False,
        )
    footer = t("Use it with /flux preset:{name}", name=preset.name)
    embed.set_footer(text=render(footer, locale))
    return embed


async def capped_here(
    interaction: discord.Interaction[FluxBot], defaults: MemberDefaults
) -> list[Renderable]:
    """What this server's limits change in the member's defaults (as /flux will say)."""
    bot = interaction.client
    policy = await bot.guild_policy(interaction.guild_id)
    roles = frozenset(r.id for r in getattr(interaction.user, "roles", ()))
    tier = policy.tier_for(roles)
    probe = Generate(
        resolution=defaults.resolution or "0.5MP", upsample=bool(defaults.upsample), seed=0
    )
    sources = {
        name: MEMBER_DEFAULTS for name in ("resolution", "upsample") if getattr(defaults, name)
    }
    _, notes = cap(
        probe,
        sources,
        largest=tier.max_resolution or policy.max_resolution,
        upsampling_allowed=policy.upsampling_allowed,
    )
    return list(notes)


def defaults_embed(
    title: Renderable,
    defaults: MemberDefaults,
    notes: list[Renderable],
    server_resolution: str,
    locale: object = None,
) -> discord.Embed:
    embed = discord.Embed(title=render(title, locale), colour=audit.COLOUR_CHANGE)
    if not _fields(embed, defaults, locale):
        embed.description = render(
            t(
                "None yet: `/flux` uses the server's defaults ({resolution}, {aspect_ratio},"
                " {format}, public). Set yours with `/flux-settings set`.",
                resolution=resolution_label(server_resolution),
                aspect_ratio=DEFAULT_ASPECT_RATIO,
                format=DEFAULT_FORMAT.upper(),
            ),
            locale,
        )
    if notes:
        embed.add_field(
            name=render(t("In this server"), locale),
            value=" ".join(render(note, locale) for note in notes),
            inline=False,
        )
    embed.set_footer(text=render(FOOTER, locale))
    return embed


def refused_text(refused: PresetRefused) -> Renderable:
    """The member's message in a refusal (a `Text` where the core gives one)."""
    reason = refused.args[0] if refused.args else None
    return reason if isinstance(reason, str | Text) else str(refused)


@app_commands.guild_only()
class MemberSettings(
    commands.GroupCog,
    group_name=_T("flux-settings"),
    group_description=_T("Your own defaults for /flux in this server"),
):
    """Every answer is private: these are the member's own."""

    preset = app_commands.Group(
        name=_T("preset"), description=_T("Your named sets of defaults, with a prompt suffix")
    )

    def __init__(self, bot: FluxBot) -> None:
        self.bot = bot
        super().__init__()

    async def _show(
        self, interaction: discord.Interaction[FluxBot], title: Text, defaults: MemberDefaults
    ) -> None:
        notes = await capped_here(interaction, defaults)
        server_resolution = self.bot.settings.default_resolution
        embed = defaults_embed(title, defaults, notes, server_resolution, interaction.locale)
        await interaction.edit_original_response(embed=embed)

    @app_commands.command(name=_T("set"), description=_T("Set your defaults (others stay)"))
    @app_commands.rename(**names(*SET_OPTIONS))
    @app_commands.describe(
        resolution=_T("Image size in megapixels"),
        aspect_ratio=_T("Shape of the image"),
        format=_T("File format of the result"),
        quality=_T("JPEG/WebP quality, 0 to 100"),
        upsample=_T("Let the model enrich your prompt"),
        private=_T("Only you see the progress and the result"),
    )
    @app_commands.choices(
        resolution=RESOLUTION_CHOICES, aspect_ratio=ASPECT_CHOICES, format=FORMAT_CHOICES
    )
    async def set_defaults(
        self,
        interaction: discord.Interaction[FluxBot],
        resolution: Choice[str] | None = None,
        aspect_ratio: Choice[str] | None = None,
        format: Choice[str] | None = None,
        quality: app_commands.Range[int, 0, 100] | None = None,
        upsample: bool | None = None,
        private: bool | None = None,
    ) -> None:
        given = {
            "resolution": resolution.value if resolution else None,
            "aspect_ratio": aspect_ratio.value if aspect_ratio else None,  # i18n: not shown
            "output_format": format.value if format else None,  # i18n: not shown
            "quality": quality,
            "upsample": upsample,
            "private": private,
        }
        if all(value is None for value in given.values()):
            await interaction.response.send_message(say(interaction, NOTHING_GIVEN), ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        defaults = await self.bot.services.members.set_defaults(
            interaction.guild_id or 0, interaction.user.id, **given
        )
        await self._show(interaction, SAVED, defaults)

    @app_commands.command(name=_T("show"), description=_T("Show your defaults in this server"))
    async def show(self, interaction: discord.Interaction[FluxBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        defaults = await self.bot.services.members.defaults(
            interaction.guild_id or 0, interaction.user.id
        )
        await self._show(interaction, SHOWN, defaults)

    @app_commands.command(name=_T("reset"), description=_T("Clear your defaults in this server"))
    async def reset(self, interaction: discord.Interaction[FluxBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        cleared = await self.bot.services.members.reset_defaults(
            interaction.guild_id or 0, interaction.user.id
        )
        answer = (
            t("Your defaults here are cleared: `/flux` uses the server's again.")
            if cleared
            else t("You had no defaults here: `/flux` already uses the server's.")
        )
        await interaction.edit_original_response(content=say(interaction, answer))

    # --- presets ----------------------------------------------------------------------

    @preset.command(name=_T("save"), description=_T("Save your defaults and a suffix as a preset"))
    # TRANSLATORS: option names: lowercase, no spaces, at most 32 characters.
    @app_commands.rename(name=_T("name"), suffix=_T("suffix"))
    @app_commands.describe(
        name=_T("What to call it; the same name replaces that preset"),
        suffix=_T("Text added to the end of your prompt (optional)"),
    )
    async def preset_save(
        self,
        interaction: discord.Interaction[FluxBot],
        name: app_commands.Range[str, 1, PRESET_NAME_MAX],
        suffix: app_commands.Range[str, 1, SUFFIX_MAX] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        members, guild_id = self.bot.services.members, interaction.guild_id or 0
        defaults = await members.defaults(guild_id, interaction.user.id)
        try:
            preset = Preset(name=preset_name(name), defaults=defaults, suffix=suffix_text(suffix))
            if not defaults.chosen() and not preset.suffix:
                raise PresetRefused(NOTHING_TO_SAVE)
            replaced = await members.save_preset(guild_id, interaction.user.id, preset)
        except PresetRefused as refused:
            await interaction.edit_original_response(
                content=say(interaction, refused_text(refused))
            )
            return
        if replaced:
            title = t("Preset “{name}” replaced", name=preset.name)
        else:
            title = t("Preset “{name}” saved", name=preset.name)
        embed = preset_embed(title, preset, interaction.locale)
        await interaction.edit_original_response(embed=embed)

    @preset.command(name=_T("list"), description=_T("Your presets in this server"))
    async def preset_list(self, interaction: discord.Interaction[FluxBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        presets = await self.bot.services.members.presets(
            interaction.guild_id or 0, interaction.user.id
        )
        if not presets:
            await interaction.edit_original_response(content=say(interaction, NO_PRESETS))
            return
        embed = discord.Embed(title=say(interaction, t("Your presets")), colour=audit.COLOUR_CHANGE)
        embed.description = "\n".join(
            discord.utils.escape_markdown(say(interaction, preset_summary(p, 300))) for p in presets
        )
        embed.set_footer(text=say(interaction, t("Use one with /flux preset:<name>")))
        await interaction.edit_original_response(embed=embed)

    @preset.command(name=_T("delete"), description=_T("Delete one of your presets"))
    @app_commands.rename(name=_T("name"))
    @app_commands.describe(name=_T("The preset to delete"))
    async def preset_delete(
        self,
        interaction: discord.Interaction[FluxBot],
        name: app_commands.Range[str, 1, PRESET_NAME_MAX],
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        deleted = await self.bot.services.members.delete_preset(
            interaction.guild_id or 0, interaction.user.id, name
        )
        answer = (
            t("Preset “{name}” deleted.", name=discord.utils.escape_markdown(deleted))
            if deleted
            else no_such_preset(name)
        )
        await interaction.edit_original_response(content=say(interaction, answer))

    @preset_delete.autocomplete("name")
    async def _delete_choices(
        self, interaction: discord.Interaction[FluxBot], current: str
    ) -> list[Choice[str]]:
        return await preset_choices(interaction, current)
