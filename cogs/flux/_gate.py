"""Every new job, from `/flux` or a button, passes the guild's policy here before it is written."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import discord

from bot.i18n import Text
from bot.jobs.cost import estimate
from bot.jobs.defaults import cap
from bot.jobs.request import Generate, JobRequest
from bot.moderation.gate import Refusal, Request, check_policy, limits_for
from bot.moderation.policy import Check
from bot.storage.jobs import JobRecord
from cogs import audit, budget
from cogs.flux._context import job_context
from cogs.flux._defaults import tell_member

if TYPE_CHECKING:
    from app.bot import FluxBot


def describe_refusal(refusal: Refusal) -> str:
    """The member's message: the reason, and when they may try again where that applies."""
    if refusal.retry_at is None:
        return refusal.reason
    return f"{refusal.reason} You can try again {discord.utils.format_dt(refusal.retry_at, 'R')}."


def _where(interaction: discord.Interaction[FluxBot]) -> tuple[int | None, bool]:
    """The channel a thread belongs to, and whether the channel is age-restricted."""
    channel = interaction.channel
    parent_id = None
    if isinstance(channel, discord.Thread):
        parent_id = channel.parent_id
        parent = channel.parent
        nsfw = bool(parent is not None and parent.is_nsfw())
    else:
        nsfw = bool(channel is not None and getattr(channel, "is_nsfw", lambda: False)())
    return parent_id, nsfw


def request_for(
    interaction: discord.Interaction[FluxBot],
    prompt: str,
    request: JobRequest,
    *,
    channel_id: int,
) -> Request:
    member = interaction.user
    roles = (
        frozenset(r.id for r in member.roles) if isinstance(member, discord.Member) else frozenset()
    )
    parent_id, nsfw = _where(interaction)
    return Request(
        guild_id=interaction.guild_id,
        channel_id=channel_id,
        parent_id=parent_id,
        channel_nsfw=nsfw,
        user_id=member.id,
        role_ids=roles,
        prompt=prompt,
        kind=request.kind,
        resolution=request.resolution if isinstance(request, Generate) else None,
        has_reference=isinstance(request, Generate) and bool(request.references),
        upsample=getattr(request, "upsample", False),
    )


async def refuse_after_defer(
    interaction: discord.Interaction[FluxBot], message: str, private: bool
) -> None:
    """Turn the "thinking…" message into a refusal only the member sees."""
    if private:
        await interaction.edit_original_response(content=message)
        return
    await interaction.delete_original_response()
    await interaction.followup.send(message, ephemeral=True)


async def start_job(
    interaction: discord.Interaction[FluxBot],
    callback: discord.InteractionCallbackResponse[FluxBot] | None,
    *,
    prompt: str,
    request: JobRequest,
    private: bool,
    fallback_channel_id: int = 0,
    check_input: Callable[[], Awaitable[str | None]] | None = None,
    sources: Mapping[str, str] | None = None,
    **extra: Any,
) -> JobRecord | None:
    """Check the policy, reserve the member's quota and the guild's budget, and write the job;
    on a refusal tell the member (privately) and the audit log. The interaction is deferred.

    `check_input` (e.g. fetching and checking a reference image) runs once the policy and the
    member's usage allow the job, and before anything is reserved; a message it returns is the
    member's refusal.

    `sources` names the options that came from the member's defaults or a preset: the
    server's limits cap those (the member is told) where they would refuse a typed one."""
    bot = interaction.client
    context = job_context(
        interaction, callback, private=private, fallback_channel_id=fallback_channel_id
    )
    policy = await bot.guild_policy(interaction.guild_id)
    asked = request_for(interaction, prompt, request, channel_id=context["channel_id"])
    tier = policy.tier_for(asked.role_ids)
    notes: list[Text] = []
    if sources and isinstance(request, Generate):
        largest = tier.max_resolution or policy.max_resolution
        request, notes = cap(
            request, sources, largest=largest, upsampling_allowed=policy.upsampling_allowed
        )
        asked = request_for(interaction, prompt, request, channel_id=context["channel_id"])
    result: JobRecord | Refusal | None
    if policy.blocked_patterns:
        # A guild's regular expressions may take up to a few hundred ms: not on the loop.
        result = await asyncio.to_thread(check_policy, policy, asked, tier)
    else:
        result = check_policy(policy, asked, tier)
    limits = limits_for(policy, tier, estimate(request, bot.services.prices))
    if result is None and check_input is not None:
        # Cooldown, quota and budget first: a member who may not generate now costs no
        # download and decode of their reference image.
        result = await bot.guild_store.refusal_for(
            interaction.guild_id, asked.user_id, limits, interaction.created_at
        )
        if result is None and (problem := await check_input()):
            await refuse_after_defer(interaction, problem, private)
            return None
    if result is None:
        result = await bot.jobs.create(
            prompt=prompt, request=request, limits=limits, **extra, **context
        )
    if isinstance(result, JobRecord):
        if notes:
            await tell_member(
                interaction, result, " ".join(n.render(interaction.locale) for n in notes)
            )
        return result
    await bot.audit.record(
        interaction.guild_id,
        audit.refusal_entry(
            result,
            user_id=asked.user_id,
            channel_id=asked.channel_id,
            prompt=prompt,
            when=interaction.created_at,
        ),
    )
    if result.check is Check.BUDGET and interaction.guild_id:
        await budget.announce(bot, interaction.guild_id)
    await refuse_after_defer(interaction, describe_refusal(result), private)
    return None
