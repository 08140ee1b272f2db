"""`/flux`: generate an image with FLUX.2 [max]."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot import images
from bot.apiframe.errors import ApiframeError, NotFound
from bot.apiframe.models import PROMPT_MAX_LENGTH, RESOLUTIONS
from bot.jobs.defaults import PRESET_NAME_MAX, fill, suffix_too_long, with_suffix
from bot.jobs.describe import resolution_label
from bot.jobs.request import SEED_MAX, generate
from bot.text import counted, noun
from cogs.flux import _render
from cogs.flux._defaults import member_profile, preset_choices, tell_member
from cogs.flux._edit import EditImages
from cogs.flux._gate import start_job
from cogs.flux._presenter import DiscordPresenter
from cogs.flux._references import check_options, check_references
from cogs.flux._views import CancelButton, JobButton
from cogs.i18n import names

if TYPE_CHECKING:
    from app.bot import FluxBot
    from bot.storage.jobs import JobRecord

log = logging.getLogger(__name__)

_RESOLUTION_HINTS = {RESOLUTIONS[0]: " — fastest", RESOLUTIONS[-1]: " — most detail"}
RESOLUTION_CHOICES = [
    Choice(name=_T(resolution_label(r) + _RESOLUTION_HINTS.get(r, "")), value=r)
    for r in RESOLUTIONS
]
ASPECT_CHOICES = [
    Choice(name=_T("1:1 square"), value="1:1"),
    Choice(name=_T("3:4 portrait"), value="3:4"),
    Choice(name=_T("4:3 landscape"), value="4:3"),
    Choice(name=_T("9:16 tall"), value="9:16"),
    Choice(name=_T("16:9 wide"), value="16:9"),
]
FORMAT_CHOICES = [
    Choice(name=_T("JPEG"), value="jpg"),
    Choice(name=_T("PNG (lossless, larger)"), value="png"),
    Choice(name=_T("WebP"), value="webp"),
]
INBOX_BATCH = 10  # images one /flux-inbox posts
INBOX_CLAIM_SECONDS = 120.0  # one /flux-inbox holds a result this long while it posts it


class Flux(commands.Cog):
    """Image generation."""

    def __init__(self, bot: FluxBot) -> None:
        self.bot = bot
        self.edit_images = EditImages()

    async def cog_load(self) -> None:
        # A context menu cannot be a cog method: it joins the tree with the cog.
        self.bot.tree.add_command(self.edit_images.command)

    async def cog_unload(self) -> None:
        menu = self.edit_images.command
        self.bot.tree.remove_command(menu.name, type=menu.type)

    @app_commands.command(name=_T("flux"), description=_T("Generate an image with FLUX.2 [max]"))
    @app_commands.rename(
        **names(
            "prompt",
            "resolution",
            "aspect_ratio",
            "image",
            "image2",
            "image3",
            "image4",
            "strength",
            "format",
            "quality",
            "upsample",
            "seed",
            "private",
            "preset",
        )
    )
    @app_commands.describe(
        prompt=_T("What to draw (up to 2000 characters)"),
        resolution=_T("Image size in megapixels"),
        aspect_ratio=_T("Shape of the image"),
        image=_T("A reference image to guide the result"),
        image2=_T("A second reference image"),
        image3=_T("A third reference image"),
        image4=_T("A fourth reference image"),
        strength=_T("How closely to follow the first reference image, 0 to 1"),
        format=_T("File format of the result"),
        quality=_T("JPEG/WebP quality, 0 to 100"),
        upsample=_T("Let the model enrich your prompt"),
        seed=_T("Reuse a number to reproduce a result"),
        private=_T("Only you see the progress and the result"),
        preset=_T("One of your presets (see /flux-settings preset)"),
    )
    @app_commands.choices(
        resolution=RESOLUTION_CHOICES, aspect_ratio=ASPECT_CHOICES, format=FORMAT_CHOICES
    )
    async def flux(
        self,
        interaction: discord.Interaction[FluxBot],
        prompt: app_commands.Range[str, 1, PROMPT_MAX_LENGTH],
        resolution: Choice[str] | None = None,
        aspect_ratio: Choice[str] | None = None,
        image: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        strength: app_commands.Range[float, 0.0, 1.0] | None = None,
        format: Choice[str] | None = None,
        quality: app_commands.Range[int, 0, 100] | None = None,
        upsample: bool | None = None,
        seed: app_commands.Range[int, 0, SEED_MAX] | None = None,
        private: bool | None = None,
        preset: app_commands.Range[str, 1, PRESET_NAME_MAX] | None = None,
    ) -> None:
        permissions = interaction.app_permissions if interaction.guild_id else None
        # In the order given; all go to FLUX.2's input_images, the first also to image_prompt.
        references = [a for a in (image, image2, image3, image4) if a is not None]
        refusal = check_options(prompt, references, strength, permissions, interaction.locale)
        # Read before answering: a default or a preset may make the answer private.
        profile = refusal or await member_profile(interaction, preset)
        if isinstance(profile, str):
            await interaction.response.send_message(profile, ephemeral=True)
            return
        defaults, chosen = profile
        prompt = with_suffix(prompt, chosen)
        if too_long := suffix_too_long(prompt):
            await interaction.response.send_message(
                too_long.render(interaction.locale), ephemeral=True
            )
            return
        typed = {
            "resolution": resolution.value if resolution else None,
            "aspect_ratio": aspect_ratio.value if aspect_ratio else None,
            "output_format": format.value if format else None,
            "quality": quality,
            "upsample": upsample,
            "private": private,
        }
        options, sources = fill(typed, defaults, chosen)
        private = bool(options.pop("private", False))
        # Acknowledge before any other I/O: Discord drops interactions not answered in 3 s.
        callback = await interaction.response.defer(thinking=True, ephemeral=private)

        request = generate(
            default_resolution=self.bot.settings.default_resolution,
            references=[a.url for a in references] or None,
            strength=strength,
            seed=seed,
            **options,
        )
        job = await start_job(
            interaction,
            callback,
            prompt=prompt,
            request=request,
            private=private,
            check_input=(
                (lambda: check_references(references, self.bot.services.fetch_reference))
                if references
                else None
            ),
            sources=sources,
        )
        held = await self.bot.store.held_for(interaction.user.id)
        if held:
            log.debug("member %s has %d held results", interaction.user.id, len(held))
            await tell_member(
                interaction,
                job,
                f"You have {counted(len(held), 'image')} waiting from earlier that I couldn't"
                " post: use `/flux-inbox` to get them.",
            )

    @flux.autocomplete("preset")
    async def _presets(
        self, interaction: discord.Interaction[FluxBot], current: str
    ) -> list[Choice[str]]:
        return await preset_choices(interaction, current)

    @app_commands.command(
        name=_T("flux-inbox"), description=_T("Get your images that could not be posted earlier")
    )
    async def flux_inbox(self, interaction: discord.Interaction[FluxBot]) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        held = await self.bot.store.held_for(interaction.user.id)
        if not held:
            await interaction.edit_original_response(content="Nothing is waiting for you.")
            return
        shown = held[:INBOX_BATCH]
        more = (
            f" Here are the first {len(shown)}; run `/flux-inbox` again for the rest."
            if len(held) > len(shown)
            else ""
        )
        await interaction.edit_original_response(
            content=f"{counted(len(held), 'image')} couldn't be posted when"
            f" {noun(len(held), 'it', 'they')} finished.{more}"
        )
        presenter = DiscordPresenter(self.bot)
        owner = f"{self.bot.owner_name}:inbox:{interaction.id}"
        for job in shown:
            claimed = await self.bot.store.claim_held(job.id, owner, INBOX_CLAIM_SECONDS)
            if claimed is None:
                continue  # another /flux-inbox is delivering it right now
            try:
                await self._deliver_held(interaction, presenter, claimed)
            finally:
                await self.bot.store.release(job.id, owner)

    async def _deliver_held(
        self,
        interaction: discord.Interaction[FluxBot],
        presenter: DiscordPresenter,
        job: JobRecord,
    ) -> None:
        about = f"“{_render.quoted(job.prompt, 80)}”"
        try:
            image = await self.bot.services.fetch_image(job, interaction.filesize_limit)
        except NotFound:
            await interaction.followup.send(
                f"The image for {about} has expired at Apiframe.", ephemeral=True
            )
            await self.bot.store.transition(job.id, {"held"}, "failed", error_kind="expired")
            return
        except (ApiframeError, images.ImageProblem) as exc:
            # Kept: the file may still be fetched later.
            log.warning("job %s: inbox fetch failed: %s", job.id, exc)
            await interaction.followup.send(
                f"I couldn't fetch the image for {about} just now; please try"
                " `/flux-inbox` again in a few minutes.",
                ephemeral=True,
            )
            return
        file, embed = presenter.result_message(job, image, None)
        # Posted first, then marked: were the post to fail, the image stays in the inbox.
        await interaction.followup.send(embed=embed, file=file, ephemeral=True)
        await self.bot.store.transition(
            job.id, {"held"}, "delivered", delivered_at=discord.utils.utcnow()
        )


async def setup(bot: FluxBot) -> None:
    bot.add_dynamic_items(JobButton, CancelButton)
    await bot.add_cog(Flux(bot))
