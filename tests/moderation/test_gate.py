"""The ordered checks and the policy model, as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import load_settings
from bot.moderation.gate import (
    Limits,
    MemberUsage,
    Request,
    check_policy,
    check_usage,
    limits_for,
    next_month,
)
from bot.moderation.policy import Check, GuildPolicy, Tier, defaults_from
from cogs.admin._options import features_edit

NOW = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
STAFF, SUPPORTER = 501, 502


def request(**overrides: object) -> Request:
    fields: dict[str, object] = {
        "guild_id": 1,
        "channel_id": 10,
        "user_id": 7,
        "prompt": "a lighthouse",
        "resolution": "1MP",
    }
    return Request.model_validate(fields | overrides)


def check(policy: GuildPolicy, req: Request) -> Check | None:
    refusal = check_policy(policy, req, policy.tier_for(req.role_ids))
    return refusal.check if refusal else None


def test_precheck_order_banned_channel_role_prompt_feature() -> None:
    """With every check failing, each fix reveals the next one, in the documented order."""
    policy = GuildPolicy(
        banned={7: "spam"},
        allowed_channels=(11,),
        allowed_roles=(STAFF,),
        blocked_words=("kraken",),
        upsampling_allowed=False,
    )
    req = request(prompt="a kraken", upsample=True)
    expected = [Check.BANNED, Check.CHANNEL, Check.ROLE, Check.PROMPT, Check.FEATURE, None]
    seen = []
    for _ in expected:
        found = check(policy, req)
        seen.append(found)
        if found is Check.BANNED:
            policy = policy.model_copy(update={"banned": {}})
        elif found is Check.CHANNEL:
            req = req.model_copy(update={"channel_id": 11})
        elif found is Check.ROLE:
            req = req.model_copy(update={"role_ids": frozenset({STAFF})})
        elif found is Check.PROMPT:
            req = req.model_copy(update={"prompt": "a whale"})
        elif found is Check.FEATURE:
            req = req.model_copy(update={"upsample": False})
    assert seen == expected


def test_ban_reason_is_shown() -> None:
    refusal = check_policy(GuildPolicy(banned={7: "spam"}), request(), Tier(role_id=0))
    assert refusal is not None
    assert "spam" in str(refusal.reason)


@pytest.mark.parametrize(("inherit", "expected"), [(True, None), (False, Check.CHANNEL)])
def test_threads_follow_their_channel_when_set(inherit: bool, expected: Check | None) -> None:
    policy = GuildPolicy(allowed_channels=(11,), threads_inherit=inherit)
    assert check(policy, request(channel_id=99, parent_id=11)) is expected


def test_adult_terms_need_an_age_restricted_channel_and_permission() -> None:
    prompt = "a nude figure study"
    assert check(GuildPolicy(), request(prompt=prompt, channel_nsfw=True)) is Check.PROMPT
    allowed = GuildPolicy(adult_allowed=True)
    assert check(allowed, request(prompt=prompt)) is Check.PROMPT
    assert check(allowed, request(prompt=prompt, channel_nsfw=True)) is None
    refusal = check_policy(allowed, request(prompt=prompt), Tier(role_id=0))
    assert refusal is not None
    assert "age-restricted" in str(refusal.reason)


def test_refusal_names_the_rule_class_never_the_rule() -> None:
    refusal = check_policy(
        GuildPolicy(blocked_words=("kraken",)), request(prompt="a KR4KEN"), Tier(role_id=0)
    )
    assert refusal is not None
    assert "kraken" not in str(refusal.reason).lower()
    assert refusal.detail == "blocked word"


def test_most_generous_tier_wins() -> None:
    policy = GuildPolicy(
        per_day=5,
        per_month=50,
        max_resolution="1MP",
        tiers=(
            Tier(role_id=SUPPORTER, per_day=50, max_resolution="2MP"),
            Tier(role_id=STAFF, per_day=None, per_month=None, max_resolution="4MP"),
        ),
    )
    everyone = policy.tier_for(frozenset())
    assert (everyone.per_day, everyone.per_month, everyone.max_resolution) == (5, 50, "1MP")
    supporter = policy.tier_for(frozenset({SUPPORTER}))
    assert (supporter.per_day, supporter.per_month, supporter.max_resolution) == (50, 50, "2MP")
    both = policy.tier_for(frozenset({SUPPORTER, STAFF}))
    assert (both.per_day, both.per_month, both.max_resolution) == (None, None, "4MP")
    assert check(policy, request(resolution="2MP")) is Check.FEATURE
    assert check(policy, request(resolution="2MP", role_ids=frozenset({SUPPORTER}))) is None


def test_usage_checks_in_order_with_retry_times() -> None:
    limits = Limits(per_day=2, per_month=3, cooldown_seconds=60, jobs_per_member=1,
                    monthly_budget=20, estimate=7)  # fmt: skip
    usage = MemberUsage(today=2, this_month=3, in_flight=1, last_started_at=NOW, guild_credits=14)
    order = []
    while (refusal := check_usage(limits, usage, NOW)) is not None:
        order.append((refusal.check, refusal.retry_at))
        usage = usage.model_copy(
            update={
                Check.COOLDOWN: {"last_started_at": NOW - timedelta(minutes=5)},
                Check.IN_FLIGHT: {"in_flight": 0},
                Check.QUOTA: {"today": 0} if usage.today else {"this_month": 0},
                Check.BUDGET: {"guild_credits": 13},
            }[refusal.check]
        )
    assert order == [
        (Check.COOLDOWN, NOW + timedelta(seconds=60)),
        (Check.IN_FLIGHT, None),
        (Check.QUOTA, datetime(2027, 1, 1, tzinfo=UTC)),
        (Check.QUOTA, datetime(2027, 1, 1, tzinfo=UTC)),
        (Check.BUDGET, datetime(2027, 1, 1, tzinfo=UTC)),
    ]


def test_both_quotas_used_up_points_to_the_later_reset() -> None:
    mid_month = datetime(2026, 5, 10, 15, 0, tzinfo=UTC)
    limits = Limits(per_day=2, per_month=10)
    both = check_usage(limits, MemberUsage(today=2, this_month=10), mid_month)
    assert both is not None
    assert (both.detail, both.retry_at) == ("monthly", datetime(2026, 6, 1, tzinfo=UTC))
    daily = check_usage(limits, MemberUsage(today=2, this_month=4), mid_month)
    assert daily is not None
    assert (daily.detail, daily.retry_at) == ("daily", datetime(2026, 5, 11, tzinfo=UTC))


def test_next_month_rolls_over_the_year() -> None:
    assert next_month(NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    assert next_month(datetime(2026, 2, 10, tzinfo=UTC)) == datetime(2026, 3, 1, tzinfo=UTC)


def test_defaults_come_from_settings() -> None:
    settings = load_settings(
        default_daily_limit="",
        default_monthly_limit="100",
        default_cooldown_seconds="5",
        default_max_resolution="2MP",
        default_monthly_budget="500",
    )
    policy = defaults_from(settings)
    assert (policy.per_day, policy.per_month, policy.cooldown_seconds) == (None, 100, 5)
    assert (policy.max_resolution, policy.monthly_budget) == ("2MP", 500)
    limits = limits_for(policy, policy.tier_for(frozenset()), 7)
    assert (limits.per_month, limits.monthly_budget, limits.estimate) == (100, 500, 7)


def test_zero_in_the_default_settings_means_no_limit_as_in_flux_admin() -> None:
    settings = load_settings(
        default_daily_limit="0", default_monthly_limit="0", default_monthly_budget="0"
    )
    policy = defaults_from(settings)
    assert (policy.per_day, policy.per_month, policy.monthly_budget) == (None, None, None)


def test_a_tool_turned_off_refuses_its_kind_only() -> None:
    policy = GuildPolicy(disabled_kinds=("upscale",))
    refusal = check_policy(
        policy, request(kind="upscale", resolution=None), policy.tier_for(frozenset())
    )
    assert refusal is not None
    assert refusal.check is Check.FEATURE
    assert str(refusal.reason) == "Upscaling is turned off on this server."
    assert (
        check_policy(
            policy, request(kind="outpaint", resolution=None), policy.tier_for(frozenset())
        )
        is None
    )
    assert check_policy(policy, request(), policy.tier_for(frozenset())) is None


def test_other_kinds_keep_their_inputs_size_under_a_resolution_cap() -> None:
    """The resolution cap is for generations: an outpaint has no resolution of its own."""
    policy = GuildPolicy(max_resolution="1MP")
    assert (
        check_policy(
            policy, request(kind="outpaint", resolution=None), policy.tier_for(frozenset())
        )
        is None
    )


def test_features_turn_tools_off_and_on_again() -> None:
    assert features_edit(max_resolution=None, upscale=None) is None
    off = features_edit(upscale=False, outpaint=False, upsampling_allowed=None)
    assert off is not None
    assert off(GuildPolicy()) == {"disabled_kinds": ("outpaint", "upscale")}
    on = features_edit(upscale=True, max_resolution="2MP")
    assert on is not None
    assert on(GuildPolicy(disabled_kinds=("outpaint", "upscale"))) == {
        "max_resolution": "2MP",
        "disabled_kinds": ("outpaint",),
    }


def test_a_start_stored_at_the_end_of_time_is_a_cooldown_not_a_crash() -> None:
    """A last start from a clock gone wrong (datetime.max) plus the cooldown overflowed: it is
    now a cooldown until the last moment there is (found by fuzzing)."""
    usage = MemberUsage(last_started_at=datetime.max.replace(tzinfo=UTC))
    refusal = check_usage(Limits(cooldown_seconds=10), usage, NOW)
    assert refusal is not None
    assert refusal.check is Check.COOLDOWN
