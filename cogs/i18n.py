"""Marks what Discord shows members (names, descriptions, choices) for a Translator.

Wrapped in `locale_str`, a string reaches whatever `tree.set_translator` installs, so a
translation can be added without touching the commands.
"""

from __future__ import annotations

from discord.app_commands import locale_str


def names(*params: str) -> dict[str, locale_str]:
    """Parameter names, unchanged but translatable: `@app_commands.rename(**names(...))`."""
    return {param: locale_str(param) for param in params}
