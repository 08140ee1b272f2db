"""Show and Share, under each entry of /flux-history: a member's image posted again, with
live buttons, from Apiframe's URL while it lives.

Show posts it for the member only. Share posts it in the channel for everyone (a private image
becomes public), through the same channel, role, ban and prompt checks as /flux: sharing is
no way into a channel where the member may not generate.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import ui

from bot import images
from bot.apiframe.errors import ApiframeError, NotFound
from bot.i18n import Renderable, Text, t
from bot.moderation.gate import check_policy
from bot.storage.history import SHOWN_STATES
from cogs import _errors as errors
from cogs.flux._gate import describe_refusal, refuse_after_defer, request_for
from cogs.flux._presenter import DiscordPresenter
from cogs.flux._views import JOB_ID, result_view
from cogs.i18n import say

if TYPE_CHECKING:
    from app.bot import FluxBot
    from bot.storage.jobs import JobRecord

log = logging.getLogger(__name__)

NOT_IN_HISTORY = t("I can't find that image in your history any more.")
CANT_POST = t(
    "I can't post images in this channel: I need the **Attach Files** and **Embed Links**"
    " permissions here. Ask a server admin, or share it from another channel."
)
FETCH_FAILED = t("I couldn't fetch that image from Apiframe just now; please try again shortly.")


def expired(job: JobRecord) -> Text:
    return t(
        "That image has expired at Apiframe (it keeps images about a day), so I can't post it"
        " again. To make it again, use `/flux` with the same prompt and `seed:{seed}`.",
        seed=str(job.request.seed),
    )


class ShowButton(
    ui.DynamicItem[ui.Button[Any]],
    template=rf"flux:history:(?P<action>show|share):{JOB_ID}",  # i18n: not shown (an id)
):
    """Show (privately) or Share (in this channel) one image of the clicker's history."""

    def __init__(self, action: str, job_id: str, number: int = 0, locale: object = None) -> None:
        share = action == "share"
        label = t("Share {number}", number=number) if share else t("Show {number}", number=number)
        super().__init__(
            ui.Button(
                label=label.render(locale),
                emoji="📢" if share else "👁️",
                style=discord.ButtonStyle.secondary,
                custom_id=f"flux:history:{action}:{job_id}",
                row=1 if share else 0,
            )
        )
        self.action, self.job_id = action, job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> ShowButton:
        return cls(match["action"], match["job"])

    @errors.guarded
    async def callback(self, interaction: discord.Interaction[FluxBot]) -> None:  # type: ignore[override]
        share = self.action == "share"
        permissions = interaction.app_permissions
        if share and not (permissions.attach_files and permissions.embed_links):
            await interaction.response.send_message(say(interaction, CANT_POST), ephemeral=True)
            return
        private = not share
        await interaction.response.defer(thinking=True, ephemeral=private)
        bot = interaction.client
        job = await bot.store.get(self.job_id)
        if (
            job is None
            or job.user_id != interaction.user.id
            or job.guild_id != interaction.guild_id
            or job.scrubbed is not None
            or job.state not in SHOWN_STATES
            or not job.result_urls
        ):
            await refuse_after_defer(interaction, say(interaction, NOT_IN_HISTORY), private)
            return
        if share and (refusal := await _may_share(interaction, job)):
            await refuse_after_defer(interaction, say(interaction, refusal), private)
            return
        try:
            image = await bot.services.fetch_image(job, interaction.filesize_limit)
        except NotFound:
            await refuse_after_defer(interaction, say(interaction, expired(job)), private)
            return
        except (ApiframeError, images.ImageProblem) as exc:
            log.warning("job %s: history fetch failed: %s", job.id, exc)
            await refuse_after_defer(interaction, say(interaction, FETCH_FAILED), private)
            return
        if share and job.private:
            # Public from now on: anyone may use the buttons under it, as under any public one.
            job = await bot.store.update(job.id, private=False) or job
        file, embed = DiscordPresenter(bot).result_message(job, image, None)
        view = result_view(job, (image.info.width, image.info.height))
        # Fills the "thinking…" message: for the member only (Show) or the channel (Share).
        await interaction.followup.send(embed=embed, file=file, view=view, ephemeral=private)


async def _may_share(
    interaction: discord.Interaction[FluxBot], job: JobRecord
) -> Renderable | None:
    """Why the member may not post `job` here (banned, the channel, their roles, the prompt
    rules of this channel), or None. Nothing is generated: no size, feature or quota check."""
    policy = await interaction.client.guild_policy(interaction.guild_id)
    channel_id = interaction.channel_id or 0
    asked = request_for(interaction, job.prompt, job.request, channel_id=channel_id)
    nothing_made = {
        "kind": "share",
        "resolution": None,
        "has_reference": False,  # i18n: not shown (a field name)
        "upsample": False,
    }
    asked = asked.model_copy(update=nothing_made)
    tier = policy.tier_for(asked.role_ids)
    if policy.blocked_patterns:  # a guild's expressions may take a while: not on the loop
        refusal = await asyncio.to_thread(check_policy, policy, asked, tier)
    else:
        refusal = check_policy(policy, asked, tier)
    return describe_refusal(refusal) if refusal else None
