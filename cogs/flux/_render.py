"""How jobs look in Discord: embeds within Discord's limits, built from plain job data, in the
language of whoever reads them (`locale`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord

from bot.i18n import Renderable, Text, render, t
from bot.jobs import describe
from bot.jobs.failures import Failure
from bot.jobs.presenter import Progress, Stage
from bot.jobs.request import JobRequest

BRAND = "FLUX.2 [max]"  # i18n: not shown (a name, the same in every language)
COLOUR_WORKING = discord.Colour.blurple()
COLOUR_DONE = discord.Colour.green()
COLOUR_FAILED = discord.Colour.red()

_STAGE_TEXT = {
    Stage.WAITING: t("Waiting in line…"),
    Stage.QUEUED: t("Queued at Apiframe…"),
    Stage.GENERATING: t("Generating…"),
    Stage.FINISHING: t("Finishing up…"),
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


def footer(job_id: str) -> Text:
    return t("{brand} · job {job_id}", brand=BRAND, job_id=job_id)


def _stage_title(progress: Progress) -> Text:
    if progress.stage is Stage.WAITING and progress.position:
        return t("Waiting in line — #{position}…", position=progress.position)
    return _STAGE_TEXT[progress.stage]


def progress_embed(
    prompt: str,
    progress: Progress,
    job_id: str,
    *,
    private_until: datetime | None = None,
    locale: object = None,
) -> discord.Embed:
    """The embed shown while a job runs. `private_until`: a private job's reply can be edited
    until then; later results wait in /flux-inbox."""
    embed = discord.Embed(title=render(_stage_title(progress), locale), colour=COLOUR_WORKING)
    embed.description = quoted(prompt, 1000)
    if progress.percent is not None and progress.stage is not Stage.WAITING:
        embed.add_field(
            name=render(t("Progress"), locale),
            value=f"{bar(progress.percent)} {progress.percent} %",
        )
    embed.add_field(name=render(t("Elapsed"), locale), value=duration(progress.elapsed_seconds))
    if progress.eta_seconds is not None and progress.stage is not Stage.FINISHING:
        embed.add_field(name=render(t("Expected"), locale), value=relative(progress.eta_seconds))
    if progress.slow:
        if private_until is not None:
            later = t(
                "This is taking longer than usual; I'll post the image as soon as it's ready; if"
                " that is after {time}, it will wait for you in `/flux-inbox`.",
                time=discord.utils.format_dt(private_until, "t"),
            )
        else:
            later = t(
                "This is taking longer than usual; I'll post the image as soon as it's ready."
            )
        embed.add_field(
            name=render(t("Still working…"), locale), value=render(later, locale), inline=False
        )
    embed.set_footer(text=render(footer(job_id), locale))
    return embed


def held_embed(prompt: str, job_id: str, *, late: bool, locale: object = None) -> discord.Embed:
    """A finished image kept for /flux-inbox: it finished too late to be shown here (`late`),
    or Discord would not take it here."""
    embed = discord.Embed(title=render(t("Your image is ready"), locale), colour=COLOUR_DONE)
    embed.description = quoted(prompt, 1000)
    why = (
        t(
            "It finished after my time to answer here ran out: use `/flux-inbox` to get it,"
            " privately."
        )
        if late
        else t(
            "Discord wouldn't let me post it here (a server admin may want to check my"
            " permissions in this channel): use `/flux-inbox` to get it, privately."
        )
    )
    embed.add_field(
        name=render(t("Waiting for you"), locale), value=render(why, locale), inline=False
    )
    embed.set_footer(text=render(footer(job_id), locale))
    return embed


def result_embed(
    *,
    prompt: str,
    request: JobRequest,
    user_id: int,
    job_id: str,
    seconds: float,
    filename: str,
    note: Renderable | None,
    original_url: str | None,
    origin: str | None = None,
    locale: object = None,
) -> discord.Embed:
    """The embed posted with the finished image; `origin` links the image it was made from."""
    embed = discord.Embed(description=quoted(prompt, 4000), colour=COLOUR_DONE)
    embed.set_image(url=f"attachment://{filename}")
    for label, value in describe.facts(request, file_format=filename.rsplit(".", 1)[-1]):
        embed.add_field(name=render(label, locale), value=render(value, locale))
    embed.add_field(name=render(t("Time"), locale), value=duration(seconds))
    embed.add_field(name=render(t("Requested by"), locale), value=f"<@{user_id}>")
    if origin:
        embed.add_field(
            name=render(t("Made from"), locale),
            value=render(t("[this message]({url})", url=origin), locale),
        )
    if note:
        text: Renderable = note
        if original_url:
            text = t(
                "{note} · [original]({url}) (link expires within a day)",
                note=note,
                url=original_url,
            )
        embed.add_field(
            name=render(t("Note"), locale), value=clip(render(text, locale), 1024), inline=False
        )
    embed.set_footer(text=render(footer(job_id), locale))
    return embed


def failure_embed(
    prompt: str, failure: Failure, job_id: str, *, locale: object = None
) -> discord.Embed:
    """A job that made no image: why, in words for the member (`Failure.member_message`)."""
    embed = discord.Embed(title=render(t("No image this time"), locale), colour=COLOUR_FAILED)
    embed.description = render(failure.member_message, locale)
    embed.add_field(name=render(t("Prompt"), locale), value=quoted(prompt, 1024), inline=False)
    embed.set_footer(text=render(footer(job_id), locale))
    return embed


def cancelled_embed(
    prompt: str, job_id: str, *, by_user_id: int, locale: object = None
) -> discord.Embed:
    """A job dropped from the queue before it was paid for."""
    embed = discord.Embed(title=render(t("Cancelled"), locale), colour=COLOUR_FAILED)
    embed.description = render(
        t(
            "Cancelled by <@{user_id}> before it started. Nothing was made, and it doesn't count"
            " towards any limit.",
            user_id=str(by_user_id),
        ),
        locale,
    )
    embed.add_field(name=render(t("Prompt"), locale), value=quoted(prompt, 1024), inline=False)
    embed.set_footer(text=render(footer(job_id), locale))
    return embed
