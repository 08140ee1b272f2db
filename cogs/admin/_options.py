"""The choices and channel types /flux-admin's options take."""

from __future__ import annotations

import discord
from discord.app_commands import Choice
from discord.app_commands import locale_str as _T

from bot.apiframe.models import RESOLUTIONS
from bot.jobs.describe import resolution_label

RESOLUTION_CHOICES = [Choice(name=resolution_label(r), value=r) for r in RESOLUTIONS]
PERIOD_CHOICES = [
    Choice(name=_T("today"), value="today"),
    Choice(name=_T("last 7 days"), value="week"),
    Choice(name=_T("this month"), value="month"),
    Choice(name=_T("last month"), value="last-month"),
    Choice(name=_T("all time"), value="all"),
]
# Where members can run /flux: a thread or forum post can be listed itself, or follow its parent.
GenerateIn = discord.TextChannel | discord.Thread | discord.ForumChannel | discord.VoiceChannel
