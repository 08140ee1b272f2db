"""The choices and channel types /flux-admin's options take."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord
from discord.app_commands import Choice
from discord.app_commands import locale_str as _T

from bot.apiframe.models import RESOLUTIONS
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, t
from bot.jobs.describe import resolution_label
from bot.moderation.policy import GuildPolicy

RESOLUTION_CHOICES = [Choice(name=resolution_label(r), value=r) for r in RESOLUTIONS]
PERIOD_CHOICES = [
    Choice(name=_T("today"), value="today"),
    Choice(name=_T("last 7 days"), value="week"),
    Choice(name=_T("this month"), value="month"),
    Choice(name=_T("last month"), value="last-month"),
    Choice(name=_T("all time"), value="all"),
]
# Options a message names: in the member's language, as Discord shows them to the member.
OPTIONS = {"credits": t("credits"), "warn_percent": t("warn_percent"), "confirm": t("confirm")}
SERVER_DEFAULT = "server"  # the choice that follows the server's Discord language
# Each language named as its speakers write it, whatever the moderator's own language.
LANGUAGE_CHOICES = [
    Choice(name=_T("server default (the server's Discord language)"), value=SERVER_DEFAULT),
    *(Choice(name=LANGUAGE_NAMES[code], value=code) for code in LANGUAGES),
]
# Where members can run /flux: a thread or forum post can be listed itself, or follow its parent.
GenerateIn = discord.TextChannel | discord.Thread | discord.ForumChannel | discord.VoiceChannel

TOOLS = ("upscale", "outpaint")  # job kinds /flux-admin features can turn off


def features_edit(**asked: Any) -> Callable[[GuildPolicy], dict[str, Any]] | None:
    """The policy change /flux-admin features asks for (None: nothing was given). Policy
    fields are set as given; a tool (a job kind) given True or False leaves or joins
    `disabled_kinds`."""
    given = {key: value for key, value in asked.items() if value is not None}
    if not given:
        return None
    tools = {kind: given.pop(kind) for kind in TOOLS if kind in given}

    def edit(policy: GuildPolicy) -> dict[str, Any]:
        off = set(policy.disabled_kinds)
        for kind, allowed in tools.items():
            (off.discard if allowed else off.add)(kind)
        return {**given, "disabled_kinds": tuple(sorted(off))} if tools else given

    return edit
