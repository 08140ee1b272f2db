"""The member's language at the Discord edge: command localizations and rendering `Text`.

Command names, descriptions and choices are wrapped in `locale_str` (`_T`); `CatalogTranslator`
gives Discord their translations from the same catalogs the messages use. Slash command
names stay English in every language, so messages, the README and members agree on
`/flux-history`; their options, descriptions and choices are translated, and so are context
menu names ("Edit with FLUX"), which are labels.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation, locale_str

from bot import i18n
from bot.i18n import Renderable

_COMMAND_NAMES = frozenset(
    {TranslationContextLocation.command_name, TranslationContextLocation.group_name}
)
# Where Discord accepts only a name: lowercase, no spaces, 1–32 characters.
_NAMES = frozenset(
    {TranslationContextLocation.command_name, TranslationContextLocation.parameter_name}
)


def names(*params: str) -> dict[str, locale_str]:
    """Parameter names, translatable: `@app_commands.rename(**names(...))`."""
    return {param: locale_str(param) for param in params}


class CatalogTranslator(app_commands.Translator):
    """Reads command strings from the catalogs; None where a language has no translation, so
    Discord shows the English."""

    async def translate(
        self,
        string: locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        lang = i18n.language(locale)
        if lang == i18n.ENGLISH:
            return None
        if context.location in _COMMAND_NAMES and not isinstance(
            context.data, app_commands.ContextMenu
        ):
            return None  # slash command and group names stay English; a context menu's is a label
        translated = i18n.catalogs().lookup(lang, string.message)
        if translated is None:
            return None
        if context.location in _NAMES:
            translated = translated.strip().lower().replace(" ", "-")
        return translated


def say(interaction: discord.Interaction[Any], text: Renderable) -> str:
    """`text` in the language of the member who used the interaction."""
    return i18n.render(text, interaction.locale)


def server_language(guild: discord.Guild | None, chosen: str | None) -> str:
    """The language of a post everyone in the guild's channel reads."""
    return i18n.channel_language(chosen, guild.preferred_locale if guild else None)
