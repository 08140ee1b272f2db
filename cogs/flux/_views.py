"""Buttons under a finished image. Their state is the job id in the `custom_id`, loaded from the
database on each click, so they keep working after restarts and in every process."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord
from discord import ui

from bot.apiframe.models import PROMPT_MAX_LENGTH
from bot.i18n import render, t
from bot.jobs.actions import (
    ACTIONS,
    RENAMED,
    Refused,
    Size,
    derive,
    makes_new_generation,
    shown_actions,
)
from bot.jobs.defaults import fill
from bot.jobs.request import JobRequest
from bot.jobs.service import CancelOutcome
from cogs import _errors as errors
from cogs import audit
from cogs.flux import _render
from cogs.flux._defaults import member_defaults
from cogs.flux._gate import refuse_after_defer, start_job
from cogs.i18n import say

if TYPE_CHECKING:
    from app.bot import FluxBot
    from bot.storage.jobs import JobRecord

JOB_ID = r"(?P<job>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
_ACTION_IDS = "|".join(re.escape(name) for name in [*ACTIONS, *RENAMED])
# A member's defaults a button's new generation takes (its shape is the image's own).
FRESH_OPTIONS = ("resolution", "output_format", "quality", "upsample")
PAN_LABELS = {
    "pan-left": t("Left"),
    "pan-right": t("Right"),
    "pan-up": t("Up"),
    "pan-down": t("Down"),
}

CANCEL_ANSWERS = {
    CancelOutcome.STARTED: t(
        "It's too late to cancel: the image is already being made, and it will arrive here."
    ),
    CancelOutcome.ENDED: t("That job has already ended."),
    CancelOutcome.UNKNOWN: t("I can't find that job any more."),
}
NOT_YOURS_TO_CANCEL = t(
    "Only the member who asked for this image, or a moderator who can manage messages here, "
    "can cancel it."
)
GONE = t("I can't find that image's settings any more.")
NO_IMAGE = t("I can't find the picture on that message any more.")
NOT_YOURS_PRIVATE = t("Only the member who asked for this private image can work on it.")
SCRUBBED = t(
    "I no longer keep this image's prompt (its member asked me to forget it, or it is older"
    " than this bot keeps history), so its buttons can't make anything from it; `/flux` can."
)
NOT_YOURS = t(
    "Only the member who asked for this image, or a moderator who can manage messages here, "
    "can delete it."
)


def _image(
    interaction: discord.Interaction[FluxBot], parent: JobRecord
) -> tuple[str | None, Size | None]:
    """The clicked message's picture and its size: the attachment's fresh signed URL (what the
    member sees), else the job's own result URL while it lives."""
    message = interaction.message
    if message is not None and message.attachments:
        attachment = message.attachments[0]
        size = (attachment.width, attachment.height) if attachment.width else None
        return attachment.url, size  # type: ignore[return-value]
    return (parent.result_urls[0] if parent.result_urls else None), None


def _private(interaction: discord.Interaction[FluxBot]) -> bool:
    """Whether the clicked message is private: its children are private too."""
    message = interaction.message
    return bool(message is not None and message.flags.ephemeral)


def _origin(interaction: discord.Interaction[FluxBot]) -> str | None:
    """A link to the clicked message, shown on the result (a private one has none)."""
    message = interaction.message
    if message is None or message.flags.ephemeral or interaction.guild_id is None:
        return None
    return message.jump_url


async def start_child(
    interaction: discord.Interaction[FluxBot],
    callback: discord.InteractionCallbackResponse[FluxBot] | None,
    parent: JobRecord,
    *,
    source: str,
    request: JobRequest,
    private: bool,
    prompt: str | None = None,
    sources: Mapping[str, str] | None = None,
) -> None:
    """Start a new job derived from `parent`, owned by whoever clicked (already deferred)."""
    # The same policy as /flux: a button is no way around a limit or a prompt rule.
    await start_job(
        interaction,
        callback,
        prompt=prompt or parent.prompt,
        request=request,
        private=private,
        fallback_channel_id=parent.channel_id,
        source=source,
        parent_job_id=parent.id,
        sources=sources,
    )


class EditPromptModal(errors.Modal):
    """The image's prompt to change, labelled in the member's language."""

    def __init__(self, parent: JobRecord, locale: object = None) -> None:
        super().__init__(
            title=render(t("Edit the prompt"), locale), custom_id=f"flux:edit-modal:{parent.id}"
        )
        self.parent = parent
        self.prompt: ui.TextInput[EditPromptModal] = ui.TextInput(
            label=render(t("Prompt"), locale),
            style=discord.TextStyle.paragraph,
            max_length=PROMPT_MAX_LENGTH,
            default=parent.prompt[:PROMPT_MAX_LENGTH],
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[FluxBot]) -> None:  # type: ignore[override]
        text = self.prompt.value.strip()
        if not text:
            await interaction.response.send_message(
                say(interaction, t("The prompt can't be empty.")), ephemeral=True
            )
            return
        # A private image's children are private; the member's default may make any private.
        private = self.parent.private or bool((await member_defaults(interaction)).private)
        callback = await interaction.response.defer(thinking=True, ephemeral=private)
        await start_child(
            interaction,
            callback,
            self.parent,
            source="edit",
            request=self.parent.request.changed(origin=_origin(interaction)),
            private=private,
            prompt=text,
        )


class JobButton(
    ui.DynamicItem[ui.Button[Any]],
    template=rf"flux:(?P<action>{_ACTION_IDS}):{JOB_ID}",
):
    """One button under a result (see `bot.jobs.actions`): upscale, vary, zoom out, make square,
    pan, reroll, edit the prompt, or delete the image."""

    def __init__(self, action: str, job_id: str, locale: object = None) -> None:
        shown = ACTIONS[RENAMED.get(action, action)]
        super().__init__(
            ui.Button(
                # Rebuilt from the custom_id on a click, where the label no longer matters.
                label=render(PAN_LABELS.get(action, shown.label), locale),
                emoji=shown.emoji,
                style=discord.ButtonStyle.secondary,
                custom_id=f"flux:{action}:{job_id}",
                row=shown.row,
            )
        )
        self.action = RENAMED.get(action, action)
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> JobButton:
        return cls(match["action"], match["job"])

    @errors.guarded
    async def callback(self, interaction: discord.Interaction[FluxBot]) -> None:  # type: ignore[override]
        store = interaction.client.store
        if self.action == "edit":
            # A modal must be the first answer to the click, and it shows the old prompt.
            parent = await store.get(self.job_id)
            if parent is None or parent.scrubbed:
                answer = GONE if parent is None else SCRUBBED
                await interaction.response.send_message(say(interaction, answer), ephemeral=True)
                return
            await interaction.response.send_modal(EditPromptModal(parent, interaction.locale))
            return
        if self.action == "delete":
            await delete_result(interaction, self.job_id)
            return
        # Only the member's defaults are read before the answer (within a time limit): they
        # may make it private. The rest waits for the acknowledgement (Discord's 3 s rule).
        defaults = await member_defaults(interaction)
        private = _private(interaction) or bool(defaults.private)
        callback = await interaction.response.defer(thinking=True, ephemeral=private)
        parent = await store.get(self.job_id)
        if parent is None or parent.scrubbed:
            answer = GONE if parent is None else SCRUBBED
            await refuse_after_defer(interaction, say(interaction, answer), private)
            return
        if parent.private and interaction.user.id != parent.user_id:
            await refuse_after_defer(interaction, say(interaction, NOT_YOURS_PRIVATE), private)
            return
        image, size = _image(interaction, parent)
        if image is None:
            await refuse_after_defer(interaction, say(interaction, NO_IMAGE), private)
            return
        fresh, sources = fill(dict.fromkeys(FRESH_OPTIONS), defaults)
        if not makes_new_generation(self.action, parent.request):
            fresh, sources = {}, {}
        try:
            request = derive(
                self.action,
                parent.request,
                image=image,
                size=size,
                origin=_origin(interaction),
                default_resolution=interaction.client.settings.default_resolution,
                fresh=fresh,
            )
        except Refused as refused:
            await refuse_after_defer(interaction, say(interaction, refused.text), private)
            return
        await start_child(
            interaction,
            callback,
            parent,
            source=self.action,
            request=request,
            private=private,
            sources=sources,
        )


async def delete_result(interaction: discord.Interaction[FluxBot], job_id: str) -> None:
    """Remove the posted image. The job stays on record: it was made and paid for."""
    await interaction.response.defer()  # the message the button is on becomes "@original"
    job = await interaction.client.store.get(job_id)
    if job is None:
        await interaction.followup.send(say(interaction, GONE), ephemeral=True)
        return
    if interaction.user.id != job.user_id and not interaction.permissions.manage_messages:
        await interaction.followup.send(say(interaction, NOT_YOURS), ephemeral=True)
        return
    try:
        await interaction.delete_original_response()
    except discord.NotFound:
        return  # already gone
    await interaction.client.audit.record(
        interaction.guild_id,
        audit.deletion_entry(job, by_user_id=interaction.user.id, when=interaction.created_at),
    )


def result_view(job: JobRecord, size: Size | None, *, locale: object = None) -> ui.View:
    """The buttons posted under a finished image of `size`, grouped in rows, labelled in the
    language of the message they are under."""
    view = errors.View(timeout=None)
    for action in shown_actions(job.request, size):
        view.add_item(JobButton(action, job.id, locale))
    return view


class CancelButton(ui.DynamicItem[ui.Button[Any]], template=rf"flux:cancel:{JOB_ID}"):
    """Under a job still waiting in the bot's queue: it can be dropped, as nothing is paid."""

    def __init__(self, job_id: str, locale: object = None) -> None:
        super().__init__(
            ui.Button(
                label=render(t("Cancel"), locale),
                emoji="✖️",
                style=discord.ButtonStyle.danger,
                custom_id=f"flux:cancel:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> CancelButton:
        return cls(match["job"])

    @errors.guarded
    async def callback(self, interaction: discord.Interaction[FluxBot]) -> None:  # type: ignore[override]
        bot = interaction.client
        await interaction.response.defer()  # first: the message the button is on is "@original"
        job = await bot.store.get(self.job_id)
        if job is None:
            unknown = CANCEL_ANSWERS[CancelOutcome.UNKNOWN]
            await interaction.followup.send(say(interaction, unknown), ephemeral=True)
            return
        if interaction.user.id != job.user_id and not interaction.permissions.manage_messages:
            await interaction.followup.send(say(interaction, NOT_YOURS_TO_CANCEL), ephemeral=True)
            return
        outcome = await bot.jobs.cancel_waiting(job.id, by_user_id=interaction.user.id)
        if outcome is not CancelOutcome.CANCELLED:
            answer = CANCEL_ANSWERS[outcome]
            await interaction.followup.send(say(interaction, answer), ephemeral=True)
            return
        # The job's message, read by whoever saw it asked for: in the asker's language.
        embed = _render.cancelled_embed(
            job.prompt, job.id, by_user_id=interaction.user.id, locale=job.locale
        )
        await interaction.edit_original_response(embed=embed, view=None)


def cancel_view(job_id: str, *, locale: object = None) -> ui.View:
    """The button shown while a job waits in line."""
    view = errors.View(timeout=None)
    view.add_item(CancelButton(job_id, locale))
    return view
