"""How jobs look in Discord: embeds within Discord's limits, built from plain job data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord

from bot.jobs import describe
from bot.jobs.failures import Failure
from bot.jobs.presenter import Progress, Stage
from bot.jobs.request import JobRequest

BRAND = "FLUX.2 [max]"
COLOUR_WORKING = discord.Colour.blurple()
COLOUR_DONE = discord.Colour.green()
COLOUR_FAILED = discord.Colour.red()

_STAGE_TEXT = {
    Stage.WAITING: "Waiting in line",
    Stage.QUEUED: "Queued at Apiframe",
    Stage.GENERATING: "Generating",
    Stage.FINISHING: "Finishing up",
}


def clip(text: str, limit: int) -> str:
    """Shorten `text` to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quoted(prompt: str, limit: int) -> str:
    """A member's prompt as text in an embed: shown as typed, not as Discord markdown or
    mentions (`**`, `||`, `<@id>` in a prompt would otherwise render), within `limit`."""
    return clip(discord.utils.escape_mentions(discord.utils.escape_markdown(prompt)), limit)


def bar(percent: int, width: int = 10) -> str:
    filled = round(percent / 100 * width)
    return "▰" * filled + "▱" * (width - filled)


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def relative(seconds_from_now: float) -> str:
    """A Discord relative timestamp (`in 20 seconds`), rendered in each reader's locale."""
    when = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
    return discord.utils.format_dt(when, "R")


def progress_embed(
    prompt: str, progress: Progress, job_id: str, *, private_until: datetime | None = None
) -> discord.Embed:
    """The embed shown while a job runs. `private_until`: a private job's reply can be edited
    until then; later results wait in /flux-inbox."""
    title = _STAGE_TEXT[progress.stage]
    if progress.stage is Stage.WAITING and progress.position:
        title += f" — #{progress.position}"
    embed = discord.Embed(title=f"{title}…", colour=COLOUR_WORKING)
    embed.description = quoted(prompt, 1000)
    if progress.percent is not None and progress.stage is not Stage.WAITING:
        embed.add_field(name="Progress", value=f"{bar(progress.percent)} {progress.percent} %")
    embed.add_field(name="Elapsed", value=duration(progress.elapsed_seconds))
    if progress.eta_seconds is not None and progress.stage is not Stage.FINISHING:
        embed.add_field(name="Expected", value=relative(progress.eta_seconds))
    if progress.slow:
        later = (
            "; if that is after "
            f"{discord.utils.format_dt(private_until, 't')}, it will wait for you in `/flux-inbox`"
            if private_until is not None
            else ""
        )
        embed.add_field(
            name="Still working…",
            value="This is taking longer than usual; I'll post the image as soon as it's"
            f" ready{later}.",
            inline=False,
        )
    embed.set_footer(text=f"{BRAND} · job {job_id}")
    return embed


def held_embed(prompt: str, job_id: str, *, late: bool) -> discord.Embed:
    """A finished image kept for /flux-inbox: it finished too late to be shown here (`late`),
    or Discord would not take it here."""
    embed = discord.Embed(title="Your image is ready", colour=COLOUR_DONE)
    embed.description = quoted(prompt, 1000)
    why = (
        "It finished after my time to answer here ran out"
        if late
        else "Discord wouldn't let me post it here (a server admin may want to check my"
        " permissions in this channel)"
    )
    embed.add_field(
        name="Waiting for you",
        value=f"{why}: use `/flux-inbox` to get it, privately.",
        inline=False,
    )
    embed.set_footer(text=f"{BRAND} · job {job_id}")
    return embed


def result_embed(
    *,
    prompt: str,
    request: JobRequest,
    user_id: int,
    job_id: str,
    seconds: float,
    filename: str,
    note: str | None,
    original_url: str | None,
    origin: str | None = None,
) -> discord.Embed:
    """The embed posted with the finished image; `origin` links the image it was made from."""
    embed = discord.Embed(description=quoted(prompt, 4000), colour=COLOUR_DONE)
    embed.set_image(url=f"attachment://{filename}")
    for label, value in describe.facts(request, file_format=filename.rsplit(".", 1)[-1]):
        embed.add_field(name=label, value=value)
    embed.add_field(name="Time", value=duration(seconds))
    embed.add_field(name="Requested by", value=f"<@{user_id}>")
    if origin:
        embed.add_field(name="Made from", value=f"[this message]({origin})")
    if note:
        text = note
        if original_url:
            text += f" · [original]({original_url}) (link expires within a day)"
        embed.add_field(name="Note", value=clip(text, 1024), inline=False)
    embed.set_footer(text=f"{BRAND} · job {job_id}")
    return embed


def failure_embed(
    prompt: str, failure: Failure, job_id: str, locale: object = None
) -> discord.Embed:
    embed = discord.Embed(title="No image this time", colour=COLOUR_FAILED)
    embed.description = failure.member_message.render(locale)
    embed.add_field(name="Prompt", value=quoted(prompt, 1024), inline=False)
    embed.set_footer(text=f"{BRAND} · job {job_id}")
    return embed


def cancelled_embed(prompt: str, job_id: str, *, by_user_id: int) -> discord.Embed:
    embed = discord.Embed(title="Cancelled", colour=COLOUR_FAILED)
    embed.description = (
        f"Cancelled by <@{by_user_id}> before it started. Nothing was made, "
        "and it doesn't count towards any limit."
    )
    embed.add_field(name="Prompt", value=quoted(prompt, 1024), inline=False)
    embed.set_footer(text=f"{BRAND} · job {job_id}")
    return embed
