"""Renders job events in Discord: progress edits, the finished image, failures."""

from __future__ import annotations

import io
import logging
import time
from typing import Any

import discord
from discord.ext import commands

from bot.images import FittedImage
from bot.jobs.failures import Failure, FailureKind
from bot.jobs.presenter import DeliveryError, Progress, Route, Stage
from bot.storage.jobs import HeldReason, JobRecord
from cogs import audit, budget
from cogs.flux import _render
from cogs.flux._views import cancel_view, result_view

log = logging.getLogger(__name__)

ADMIN_FAILURES = (FailureKind.CREDITS, FailureKind.AUTH)
INVALID_WEBHOOK_TOKEN = 50027
ADMIN_NOTICE_SECONDS = 600.0
_admin_notices: dict[tuple[int | None, FailureKind], float] = {}


def _as_delivery_error(exc: discord.HTTPException) -> DeliveryError:
    # 5xx and network trouble may pass; a refusal (403, 404, 400) will not.
    retryable = exc.status >= 500 or exc.status == 429
    return DeliveryError(
        f"Discord answered {exc.status} ({exc.code})",
        retryable=retryable,
        gone=exc.status == 404,
        # 50027 Invalid Webhook Token: the token is over, even if our clock says otherwise.
        expired=exc.code == INVALID_WEBHOOK_TOKEN,
    )


class DiscordPresenter:
    """The driver's window on Discord. Works from stored job data alone, so it keeps working
    for jobs that began before a restart."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    def _webhook(self, job: JobRecord) -> discord.Webhook:
        if job.interaction_token is None:
            raise DeliveryError("the job has no interaction token", retryable=False)
        return discord.Webhook.partial(job.application_id, job.interaction_token, client=self.bot)

    async def _edit(
        self,
        job: JobRecord,
        embed: discord.Embed,
        *,
        attachments: list[discord.File] | None = None,
        view: discord.ui.View | None = None,
    ) -> None:
        if job.response_message_id is None:
            raise DeliveryError("the original response is gone", retryable=False, gone=True)
        try:
            if attachments is None:
                # Progress leaves `content` alone: it may hold a note for the member.
                await self._webhook(job).edit_message(
                    job.response_message_id, embed=embed, view=view
                )
            else:
                await self._webhook(job).edit_message(
                    job.response_message_id,
                    content=None,
                    embed=embed,
                    attachments=attachments,
                    view=view,
                )
        except discord.HTTPException as exc:
            raise _as_delivery_error(exc) from exc

    async def show_progress(self, job: JobRecord, progress: Progress) -> None:
        # Only a job still waiting in our queue can be cancelled: nothing is paid for yet.
        waiting = progress.stage is Stage.WAITING
        view = cancel_view(job.id) if waiting else None
        private_until = job.token_expires_at if job.private else None
        embed = _render.progress_embed(job.prompt, progress, job.id, private_until=private_until)
        await self._edit(job, embed, view=view)

    async def show_held(self, job: JobRecord) -> None:
        embed = _render.held_embed(job.prompt, job.id, late=job.held_reason is HeldReason.LATE)
        await self._edit(job, embed, view=None)

    def result_message(
        self, job: JobRecord, image: FittedImage, original_url: str | None
    ) -> tuple[discord.File, discord.Embed]:
        """The file and embed that present a finished image."""
        filename = f"flux-{job.id[:8]}.{image.info.format}"
        file = discord.File(
            io.BytesIO(image.data), filename=filename, description=_render.clip(job.prompt, 1024)
        )
        seconds = 0.0
        if job.completed_at and job.submitted_at:
            seconds = (job.completed_at - job.submitted_at).total_seconds()
        embed = _render.result_embed(
            prompt=job.prompt,
            request=job.request,
            user_id=job.user_id,
            job_id=job.id,
            seconds=seconds,
            filename=filename,
            note=image.note.render(job.locale) if image.note else None,
            original_url=original_url if image.reencoded else None,
            origin=job.request.origin,
        )
        return file, embed

    async def deliver(
        self, job: JobRecord, image: FittedImage, route: Route, *, original_url: str | None
    ) -> int | None:
        file, embed = self.result_message(job, image, original_url)
        view = result_view(job, (image.info.width, image.info.height))
        if route is Route.INTERACTION:
            try:
                await self._edit(job, embed, attachments=[file], view=view)
                return None
            except DeliveryError as exc:
                if not exc.gone or job.private:
                    raise
                # The member deleted the "thinking…" message: post in the channel instead.
                log.info("job %s: original response gone (%s); posting in channel", job.id, exc)
                file.reset()
        if job.private:
            raise DeliveryError(
                "a private result cannot be posted after the interaction expired", retryable=False
            )
        message_id = await self._send_to_channel(job, embed, file=file, view=view)
        await self._point_placeholder(job, message_id)
        return message_id

    async def _point_placeholder(self, job: JobRecord, message_id: int) -> None:
        """The "thinking…" message can no longer be edited through the expired token; as the
        bot's own message it still can be through the channel: point it at the result."""
        if job.response_message_id is None or job.private:
            return
        channel = self.bot.get_channel(job.channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return
        link = audit.jump_url(job.guild_id, job.channel_id, message_id)
        try:
            await channel.get_partial_message(job.response_message_id).edit(
                content=f"Your image is ready: {link}", embed=None, view=None
            )
        except discord.HTTPException as exc:
            log.info("job %s: placeholder not updated (%s)", job.id, exc)

    async def _send_to_channel(
        self,
        job: JobRecord,
        embed: discord.Embed,
        *,
        file: discord.File | None = None,
        view: discord.ui.View | None = None,
    ) -> int:
        # Ping the member who asked and nobody else, whatever the prompt says.
        mention = discord.AllowedMentions(
            everyone=False, roles=False, users=[discord.Object(job.user_id)]
        )
        try:
            channel = self.bot.get_channel(job.channel_id) or await self.bot.fetch_channel(
                job.channel_id
            )
            if not isinstance(channel, discord.abc.Messageable):
                raise DeliveryError("the channel cannot take messages", retryable=False)
            text = f"<@{job.user_id}>, your image is ready." if file else f"<@{job.user_id}>"
            if file is not None and view is not None:
                message = await channel.send(
                    text, embed=embed, file=file, view=view, allowed_mentions=mention
                )
            else:
                message = await channel.send(text, embed=embed, allowed_mentions=mention)
        except discord.HTTPException as exc:
            raise _as_delivery_error(exc) from exc
        return message.id

    async def _tell_admins(self, job: JobRecord, failure: Failure) -> None:
        """The audit channel hears of an empty account or a bad key, once per guild and kind
        every ADMIN_NOTICE_SECONDS: every job fails the same way until it is fixed."""
        now = time.monotonic()
        key = (job.guild_id, failure.kind)
        if now - _admin_notices.get(key, -ADMIN_NOTICE_SECONDS) < ADMIN_NOTICE_SECONDS:
            return
        _admin_notices[key] = now
        bot: Any = self.bot
        entry = audit.failure_entry(job, failure, when=discord.utils.utcnow())
        await bot.audit.record(job.guild_id, entry)

    async def delivered(self, job: JobRecord) -> None:
        """Audit entry for the image, then the budget announcements it may trigger."""
        bot: Any = self.bot
        await bot.audit.record(job.guild_id, audit.generation_entry(job))
        if job.guild_id:
            await budget.announce(bot, job.guild_id)

    async def show_failure(self, job: JobRecord, failure: Failure, route: Route) -> None:
        if failure.kind in ADMIN_FAILURES:
            await self._tell_admins(job, failure)
        embed = _render.failure_embed(job.prompt, failure, job.id, locale=job.locale)
        if route is Route.INTERACTION:
            await self._edit(job, embed, attachments=[], view=None)
        elif not job.private:
            await self._send_to_channel(job, embed)
