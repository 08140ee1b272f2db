"""A guild's rules for generating: stored as one JSON document per guild, defaults from settings.

Everything here is plain data and pure functions, so the checks can be tested without Discord.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bot.apiframe.models import RESOLUTIONS, Resolution
from bot.config import Settings
from bot.moderation.wordlists import DEFAULT_ADULT_TERMS


def resolution_rank(resolution: Resolution) -> int:
    """0 for the smallest resolution, 3 for the largest."""
    return RESOLUTIONS.index(resolution)


INHERIT = -1  # a tier limit that is the same as everyone's


class Tier(BaseModel):
    """Limits for members with a role: a number, None for unlimited, or INHERIT (everyone's).
    A size of None means the guild's cap."""

    model_config = ConfigDict(frozen=True)

    role_id: int
    per_day: int | None = Field(default=INHERIT, ge=INHERIT)
    per_month: int | None = Field(default=INHERIT, ge=INHERIT)
    max_resolution: Resolution | None = None


class GuildPolicy(BaseModel):
    """Who may generate in a guild, where, how much, how big and what."""

    model_config = ConfigDict(frozen=True)

    # where
    allowed_channels: tuple[int, ...] = ()  # empty: everywhere
    threads_inherit: bool = True  # a thread counts as its parent channel
    # who
    allowed_roles: tuple[int, ...] = ()  # empty: everyone
    banned: dict[int, str] = Field(default_factory=dict)  # member id → reason shown to them
    manager_roles: tuple[int, ...] = ()  # may use /flux-admin without Manage Server
    # how much (the @everyone tier; `tiers` can be more generous)
    per_day: int | None = Field(default=None, ge=0)
    per_month: int | None = Field(default=None, ge=0)
    tiers: tuple[Tier, ...] = ()
    cooldown_seconds: int = Field(default=0, ge=0)
    jobs_per_member: int = Field(default=2, ge=1)
    # how big and what
    max_resolution: Resolution = RESOLUTIONS[-1]
    references_allowed: bool = True
    upsampling_allowed: bool = True
    disabled_kinds: tuple[str, ...] = ()  # job kinds turned off here: "upscale", "outpaint"
    # spend, in Apiframe credits per calendar month (UTC)
    monthly_budget: int | None = Field(default=None, ge=0)
    budget_warn_percent: int = Field(default=80, ge=1, le=100)
    # prompt rules
    blocked_words: tuple[str, ...] = ()
    blocked_patterns: tuple[str, ...] = ()
    adult_allowed: bool = False  # only ever in age-restricted channels
    adult_terms: tuple[str, ...] = DEFAULT_ADULT_TERMS
    # seeing what happens
    audit_channel_id: int | None = None
    # the language of posts everyone reads (results in the channel, audit entries); None
    # follows the server's Community language (`preferred_locale`)
    language: str | None = None

    def tier_for(self, role_ids: frozenset[int]) -> Tier:
        """The member's effective limits: the most generous of @everyone and their roles."""
        tiers = [Tier(role_id=0, per_day=self.per_day, per_month=self.per_month)]
        tiers += [
            Tier(
                role_id=t.role_id,
                per_day=self.per_day if t.per_day == INHERIT else t.per_day,
                per_month=self.per_month if t.per_month == INHERIT else t.per_month,
                max_resolution=t.max_resolution,
            )
            for t in self.tiers
            if t.role_id in role_ids
        ]
        return Tier(
            role_id=0,
            per_day=_most(t.per_day for t in tiers),
            per_month=_most(t.per_month for t in tiers),
            max_resolution=max(
                (t.max_resolution or self.max_resolution for t in tiers), key=resolution_rank
            ),
        )


def _most(limits: object) -> int | None:
    """The most generous limit: None (unlimited) beats any number."""
    values = list(limits)  # type: ignore[call-overload]
    if any(v is None for v in values):
        return None
    return max(values)


def defaults_from(settings: Settings) -> GuildPolicy:
    """The policy of a guild whose staff changed nothing, from the bot's settings."""
    return GuildPolicy(
        per_day=settings.default_daily_limit,
        per_month=settings.default_monthly_limit,
        cooldown_seconds=settings.default_cooldown_seconds,
        jobs_per_member=settings.default_jobs_per_member,
        max_resolution=settings.default_max_resolution,
        references_allowed=settings.default_reference_images,
        upsampling_allowed=settings.default_prompt_upsampling,
        monthly_budget=settings.default_monthly_budget,
        budget_warn_percent=settings.default_budget_warn_percent,
    )


class Check(StrEnum):
    """The checks, in the order they run; a refusal names the one that failed."""

    BANNED = "banned"
    CHANNEL = "channel"
    ROLE = "role"
    PROMPT = "prompt"
    FEATURE = "feature"
    COOLDOWN = "cooldown"
    IN_FLIGHT = "in flight"  # i18n: not shown (an id; the audit log says it in words)
    QUOTA = "quota"
    BUDGET = "budget"
