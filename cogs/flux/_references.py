"""Reference images attached by a member: the checks before anything is paid for."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot import images
from bot.downloads import DownloadError, DownloadRefused
from bot.i18n import Renderable, t
from bot.jobs.options import Attached, options_problem
from cogs.i18n import say

if TYPE_CHECKING:
    from app.bot import FluxBot

log = logging.getLogger(__name__)


def check_options(
    prompt: str,
    references: Sequence[discord.Attachment],
    strength: float | None,
    permissions: discord.Permissions | None,
) -> Renderable | None:
    """Checks that need no I/O, done before acknowledging: a refusal message, or None."""
    described = [Attached(a.filename, a.content_type, a.size) for a in references]
    if (problem := options_problem(prompt, described, strength)) is not None:
        return problem
    if permissions is not None:
        # Named as Discord's settings name them in the member's language.
        missing = [
            name
            for name, granted in (
                (t("Attach Files"), permissions.attach_files),
                (t("Embed Links"), permissions.embed_links),
            )
            if not granted
        ]
        if len(missing) == 2:
            return t(
                "I can't post images in this channel: I need the **{first}** and **{second}**"
                " permission here. Ask a server admin, or try another channel.",
                first=missing[0],
                second=missing[1],
            )
        if missing:
            return t(
                "I can't post images in this channel: I need the **{permission}** permission"
                " here. Ask a server admin, or try another channel.",
                permission=missing[0],
            )
    return None


# Fetches an attachment's URL with at most so many bytes (Services.fetch_reference).
Fetch = Callable[[str, int], Awaitable[bytes]]


async def check_references(
    references: Sequence[discord.Attachment], fetch: Fetch
) -> Renderable | None:
    """The first problem with the reference images, each fetched (under the bot's download
    policy: public addresses and the configured Discord's own) and checked in turn."""
    for image in references:
        try:
            data = await fetch(image.url, images.REFERENCE_MAX_BYTES)
        except (DownloadError, aiohttp.ClientError, TimeoutError) as exc:
            if isinstance(exc, DownloadRefused):
                log.warning("reference %s refused: %s", image.id, exc)
            return t(
                "I couldn't download your reference image `{filename}`. Please attach it again.",
                filename=image.filename,
            )
        try:
            await images.check_reference_async(data)
        except images.ImageProblem as problem:
            clause = problem.text  # a clause, in the member's language
            return t(
                "About `{filename}`: {problem}. Please attach a different image.",
                filename=image.filename,
                problem=clause,
            )
    return None


async def references_problem(
    interaction: discord.Interaction[FluxBot], references: Sequence[discord.Attachment]
) -> str | None:
    """`check_references` for the member of `interaction`, in their language."""
    problem = await check_references(references, interaction.client.services.fetch_reference)
    return None if problem is None else say(interaction, problem)
