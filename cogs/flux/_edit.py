""" "Edit with FLUX": a message context menu that makes a new image from any message's images.

The images are the ones the member can see on that message (its attachments and embed
images, as Discord describes them); the bot fetches nothing Discord did not hand it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands, ui
from discord.app_commands import locale_str as _T

from bot.apiframe.models import MAX_INPUT_IMAGES, PROMPT_MAX_LENGTH
from bot.i18n import render, t
from bot.jobs.actions import nearest_aspect
from bot.jobs.defaults import fill
from bot.jobs.request import generate, round_strength
from cogs import _errors as errors
from cogs.flux._defaults import member_defaults
from cogs.flux._gate import start_job
from cogs.flux._references import check_options, references_problem
from cogs.i18n import say

if TYPE_CHECKING:
    from app.bot import FluxBot

log = logging.getLogger(__name__)

NO_IMAGES = t(
    "That message has no images I can use. Pick a message with attached images (or embedded"
    " ones), or use `/flux` with `image`."
)
BAD_STRENGTH = t(
    "Strength must be a number from 0 to 1, such as 0.6; leave it empty for the default."
)


@dataclass(frozen=True, slots=True)
class FoundImage:
    url: str
    size: tuple[int, int] | None
    attachment: discord.Attachment | None  # None: an embed's image, known only by Discord


def images_in(message: discord.Message) -> list[FoundImage]:
    """The message's images in the order shown: attachments, then embed images; at most
    FLUX.2 [max]'s 8."""
    found: list[FoundImage] = []
    for attachment in message.attachments:
        is_image = (attachment.content_type or "").startswith("image/") or attachment.width
        if is_image:
            size = (attachment.width, attachment.height) if attachment.width else None
            found.append(FoundImage(attachment.url, size, attachment))  # type: ignore[arg-type]
    for embed in message.embeds:
        for media in (embed.image, embed.thumbnail):
            url = media.proxy_url or media.url
            if url and url.startswith(("https://", "http://")):
                size = (media.width, media.height) if media.width and media.height else None
                found.append(FoundImage(url, size, None))
    unique = {image.url: image for image in reversed(found)}  # the first of each URL wins
    ordered = [image for image in found if unique.get(image.url) is image]
    return ordered[:MAX_INPUT_IMAGES]


def parse_strength(text: str) -> float | None:
    """The modal's strength, on the 0.05 grid; ValueError when it is not a number in 0..1."""
    text = text.strip().replace(",", ".")
    if not text:
        return None
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return round_strength(value)


class EditImagesModal(errors.Modal):
    """The prompt and strength for "Edit with FLUX", labelled in the member's language."""

    def __init__(
        self, message: discord.Message, found: list[FoundImage], locale: object = None
    ) -> None:
        super().__init__(
            title=render(t("Edit with FLUX"), locale), custom_id=f"flux:edit-images:{message.id}"
        )
        self.message = message
        self.found = found
        self.prompt: ui.TextInput[EditImagesModal] = ui.TextInput(
            label=render(t("Prompt"), locale),
            style=discord.TextStyle.paragraph,
            max_length=PROMPT_MAX_LENGTH,
            placeholder=render(t("What to make from these images"), locale),
        )
        self.strength: ui.TextInput[EditImagesModal] = ui.TextInput(
            label=render(t("Strength, 0 to 1 (optional)"), locale),
            required=False,
            max_length=5,
            placeholder=render(t("How closely to follow the first image, e.g. 0.6"), locale),
        )
        self.add_item(self.prompt)
        self.add_item(self.strength)

    async def on_submit(self, interaction: discord.Interaction[FluxBot]) -> None:  # type: ignore[override]
        text = self.prompt.value.strip()
        try:
            strength = parse_strength(self.strength.value)
        except ValueError:
            await interaction.response.send_message(say(interaction, BAD_STRENGTH), ephemeral=True)
            return
        attachments = [image.attachment for image in self.found if image.attachment]
        permissions = interaction.app_permissions if interaction.guild_id else None
        refusal = check_options(text, attachments, strength, permissions)
        if refusal is not None:
            await interaction.response.send_message(say(interaction, refusal), ephemeral=True)
            return
        defaults = await member_defaults(interaction)
        # The first image's shape is this edit's own choice, over a default aspect ratio.
        typed = dict.fromkeys(("resolution", "output_format", "quality", "upsample", "private"))
        typed["aspect_ratio"] = nearest_aspect(self.found[0].size)
        options, sources = fill(typed, defaults)
        private = bool(options.pop("private", False))
        callback = await interaction.response.defer(thinking=True, ephemeral=private)
        request = generate(
            default_resolution=interaction.client.settings.default_resolution,
            references=[image.url for image in self.found],
            strength=strength,
            origin=self.message.jump_url,
            **options,
        )
        await start_job(
            interaction,
            callback,
            prompt=text,
            request=request,
            private=private,
            source="edit-message",
            check_input=(
                (lambda: references_problem(interaction, attachments)) if attachments else None
            ),
            sources=sources,
        )


class EditImages:
    """The "Edit with FLUX" message command, added to the tree by the Flux cog."""

    def __init__(self) -> None:
        self.command = app_commands.ContextMenu(name=_T("Edit with FLUX"), callback=self.open)

    async def open(
        self, interaction: discord.Interaction[FluxBot], message: discord.Message
    ) -> None:
        found = images_in(message)
        if not found:
            await interaction.response.send_message(say(interaction, NO_IMAGES), ephemeral=True)
            return
        # A modal must be the first answer: nothing is read or written before it.
        await interaction.response.send_modal(EditImagesModal(message, found, interaction.locale))
