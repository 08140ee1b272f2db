"""The checks a generation passes before anything is paid for, in a fixed order:
banned → channel → role → prompt rules → features and size → cooldown → in flight → quota → budget.

`check_policy` runs the first five (they need only the policy); `check_usage` runs the rest and is
called by the store while it holds the guild's lock, so reservations never race.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from bot.apiframe.models import Resolution
from bot.i18n import Text, t, tn
from bot.moderation.policy import Check, GuildPolicy, Tier, resolution_rank
from bot.moderation.prompts import RuleClass, check_prompt


class Request(BaseModel):
    """One member asking for one generation, as plain values."""

    model_config = ConfigDict(frozen=True)

    guild_id: int | None
    channel_id: int
    parent_id: int | None = None  # the channel a thread belongs to
    channel_nsfw: bool = False
    user_id: int
    role_ids: frozenset[int] = frozenset()
    prompt: str
    kind: str = "generate"
    resolution: Resolution | None = None  # a generation's size; other kinds keep their input's
    has_reference: bool = False
    upsample: bool = False


class Refusal(BaseModel):
    """Why a generation may not run: `reason` is for the member (rendered in their language),
    `detail` for the audit log (plain English, for the moderators)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    check: Check
    reason: Text
    retry_at: datetime | None = None
    detail: str = ""


class Limits(BaseModel):
    """A member's effective limits in one guild, handed to the store with a reservation."""

    model_config = ConfigDict(frozen=True)

    per_day: int | None = None
    per_month: int | None = None
    cooldown_seconds: int = 0
    jobs_per_member: int | None = None
    monthly_budget: int | None = None
    estimate: int = 0  # credits reserved for this job


class MemberUsage(BaseModel):
    """What a member (and their guild) used, read under the guild's lock."""

    model_config = ConfigDict(frozen=True)

    today: int = 0
    this_month: int = 0
    in_flight: int = 0
    last_started_at: datetime | None = None
    guild_credits: int = 0  # this month, spent plus reserved


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


def _later(moment: datetime, seconds: float) -> datetime:
    """`seconds` after `moment`, or the last moment there is (a start stored from a clock
    gone wrong must not break every command)."""
    try:
        return moment + timedelta(seconds=seconds)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def next_day(now: datetime) -> datetime:
    return day_start(now) + timedelta(days=1)


def next_month(now: datetime) -> datetime:
    start = month_start(now)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


# What each job kind is called in a sentence of its own (the server's settings list them).
KIND_LABELS: dict[str, Text] = {
    "upscale": t("Upscaling"),
    "outpaint": t("Zooming out and panning"),
}
KIND_NAMES = {kind: str(label) for kind, label in KIND_LABELS.items()}  # in English
_KIND_OFF = {
    "upscale": t("Upscaling is turned off on this server."),
    "outpaint": t("Zooming out and panning is turned off on this server."),
}

_PROMPT_REASONS = {
    RuleClass.MINORS: t(
        "Your prompt was refused: it matches the built-in block on sexual content involving"
        " minors. Please rephrase it."
    ),
    RuleClass.REAL_PEOPLE: t(
        "Your prompt was refused: it matches the built-in block on sexualised depictions of"
        " real people. Please rephrase it."
    ),
    RuleClass.BLOCKED_WORD: t(
        "Your prompt was refused: it contains a word or phrase this server has blocked."
        " Please rephrase it."
    ),
    RuleClass.BLOCKED_PATTERN: t(
        "Your prompt was refused: it matches a pattern this server has blocked. Please rephrase it."
    ),
}


def _mentions(ids: tuple[int, ...], template: str, limit: int = 5) -> Text | str:
    shown = ", ".join(template.format(i) for i in ids[:limit])
    if len(ids) <= limit:
        return shown
    more = len(ids) - limit
    return tn("{shown} and {count} more", "{shown} and {count} more", more, shown=shown)


def check_policy(policy: GuildPolicy, request: Request, tier: Tier) -> Refusal | None:
    """Banned, channel, role, prompt rules, then features and size: the first that fails."""
    if request.user_id in policy.banned:
        why: Text | str = policy.banned[request.user_id] or t("no reason given")
        return Refusal(
            check=Check.BANNED,
            reason=t("You can't generate images on this server (reason: {reason}).", reason=why),
        )
    if policy.allowed_channels:
        where = {request.channel_id}
        if policy.threads_inherit and request.parent_id:
            where.add(request.parent_id)
        if not where & set(policy.allowed_channels):
            return Refusal(
                check=Check.CHANNEL,
                reason=t(
                    "Image generation isn't enabled in this channel. Try {channels}.",
                    channels=_mentions(policy.allowed_channels, "<#{}>"),
                ),
            )
    if policy.allowed_roles and not request.role_ids & set(policy.allowed_roles):
        return Refusal(
            check=Check.ROLE,
            reason=t(
                "Generating images here needs one of these roles: {roles}.",
                roles=_mentions(policy.allowed_roles, "<@&{}>"),
            ),
        )
    refusal = _prompt(policy, request)
    if refusal:
        return refusal
    return _features(policy, request, tier)


def _prompt(policy: GuildPolicy, request: Request) -> Refusal | None:
    matched = check_prompt(
        request.prompt,
        blocked_words=policy.blocked_words,
        blocked_patterns=policy.blocked_patterns,
        adult_terms=policy.adult_terms,
        adult_allowed=policy.adult_allowed and request.channel_nsfw,
    )
    if matched is None:
        return None
    if matched is RuleClass.ADULT:
        reason = (
            t(
                "Your prompt looks like adult content, which is only allowed in age-restricted"
                " channels here."
            )
            if policy.adult_allowed
            else t("Your prompt looks like adult content, which isn't allowed on this server.")
        )
    else:
        reason = _PROMPT_REASONS[matched]
    return Refusal(check=Check.PROMPT, reason=reason, detail=str(matched))


def _features(policy: GuildPolicy, request: Request, tier: Tier) -> Refusal | None:
    if request.kind in policy.disabled_kinds:
        return Refusal(
            check=Check.FEATURE,
            reason=_KIND_OFF.get(request.kind)
            or t("{kind} is turned off on this server.", kind=request.kind),
            detail=f"{request.kind} turned off",
        )
    if request.has_reference and not policy.references_allowed:
        return Refusal(
            check=Check.FEATURE,
            reason=t("Reference images are turned off on this server; try again without `image`."),
            detail="reference image",
        )
    if request.upsample and not policy.upsampling_allowed:
        return Refusal(
            check=Check.FEATURE,
            reason=t(
                "Prompt upsampling is turned off on this server; try again without `{option}`.",
                option=t("upsample"),  # by the name Discord shows the member
            ),
            detail="prompt upsampling",
        )
    largest = tier.max_resolution or policy.max_resolution
    if request.resolution is not None and resolution_rank(request.resolution) > resolution_rank(
        largest
    ):
        return Refusal(
            check=Check.FEATURE,
            reason=t(
                "The largest size you can use here is {size}; please pick a smaller resolution.",
                size=largest.replace("MP", " MP"),
            ),
            detail=f"resolution {request.resolution} over {largest}",
        )
    return None


def limits_for(policy: GuildPolicy, tier: Tier, estimate: int) -> Limits:
    return Limits(
        per_day=tier.per_day,
        per_month=tier.per_month,
        cooldown_seconds=policy.cooldown_seconds,
        jobs_per_member=policy.jobs_per_member,
        monthly_budget=policy.monthly_budget,
        estimate=estimate,
    )


def check_usage(limits: Limits, usage: MemberUsage, now: datetime) -> Refusal | None:
    """Cooldown, in flight, quota, then budget: the first that fails, with when to retry."""
    if limits.cooldown_seconds and usage.last_started_at is not None:
        ready = _later(usage.last_started_at, limits.cooldown_seconds)
        if now < ready:
            return Refusal(
                check=Check.COOLDOWN,
                reason=t("Please wait a little between images."),
                retry_at=ready,
            )
    if limits.jobs_per_member is not None and usage.in_flight >= limits.jobs_per_member:
        return Refusal(
            check=Check.IN_FLIGHT,
            reason=tn(
                "You already have {count} image on the way (the limit here is {limit});"
                " please wait for one to finish.",
                "You already have {count} images on the way (the limit here is {limit});"
                " please wait for one to finish.",
                usage.in_flight,
                limit=limits.jobs_per_member,
            ),
        )
    # The monthly quota first: when both are used up, tomorrow would be the wrong answer.
    if limits.per_month is not None and usage.this_month >= limits.per_month:
        return Refusal(
            check=Check.QUOTA,
            reason=tn(
                "You've used your one image for this month.",
                "You've used all {count} of your images for this month.",
                limits.per_month,
            ),
            retry_at=next_month(now),
            detail="monthly",
        )
    if limits.per_day is not None and usage.today >= limits.per_day:
        return Refusal(
            check=Check.QUOTA,
            reason=tn(
                "You've used your one image for today.",
                "You've used all {count} of your images for today.",
                limits.per_day,
            ),
            retry_at=next_day(now),
            detail="daily",
        )
    if (
        limits.monthly_budget is not None
        and usage.guild_credits + limits.estimate > limits.monthly_budget
    ):
        return Refusal(
            check=Check.BUDGET,
            reason=t("This server has used its image budget for this month."),
            retry_at=next_month(now),
            detail=f"{usage.guild_credits} + {limits.estimate} > {limits.monthly_budget} credits",
        )
    return None
