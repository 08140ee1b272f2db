"""Reference images attached by a member: the checks before anything is paid for."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import discord

from bot import images
from bot.downloads import DownloadError, DownloadRefused
from bot.jobs.options import Attached, options_problem

log = logging.getLogger(__name__)


def check_options(
    prompt: str,
    references: Sequence[discord.Attachment],
    strength: float | None,
    permissions: discord.Permissions | None,
    locale: object = None,
) -> str | None:
    """Checks that need no I/O, done before acknowledging: a refusal message, or None."""
    described = [Attached(a.filename, a.content_type, a.size) for a in references]
    if (problem := options_problem(prompt, described, strength)) is not None:
        return problem.render(locale)
    if permissions is not None:
        missing = [
            name
            for name, granted in (
                ("Attach Files", permissions.attach_files),
                ("Embed Links", permissions.embed_links),
            )
            if not granted
        ]
        if missing:
            return (
                "I can't post images in this channel: I need the "
                + " and ".join(f"**{m}**" for m in missing)
                + " permission here. Ask a server admin, or try another channel."
            )
    return None


# Fetches an attachment's URL with at most so many bytes (Services.fetch_reference).
Fetch = Callable[[str, int], Awaitable[bytes]]


async def check_references(references: Sequence[discord.Attachment], fetch: Fetch) -> str | None:
    """The first problem with the reference images, each fetched (under the bot's download
    policy: public addresses and the configured Discord's own) and checked in turn."""
    for image in references:
        try:
            data = await fetch(image.url, images.REFERENCE_MAX_BYTES)
        except (DownloadError, aiohttp.ClientError, TimeoutError) as exc:
            if isinstance(exc, DownloadRefused):
                log.warning("reference %s refused: %s", image.id, exc)
            return (
                f"I couldn't download your reference image `{image.filename}`. Please attach it"
                " again."
            )
        try:
            await images.check_reference_async(data)
        except images.ImageProblem as problem:
            return f"About `{image.filename}`: {problem}. Please attach a different image."
    return None
