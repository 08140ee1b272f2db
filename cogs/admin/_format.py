"""How policy values read in Discord: mentions for ids, "no limit" for None, on/off for flags."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.jobs.describe import resolution_label
from bot.moderation import gate
from bot.moderation.policy import INHERIT, GuildPolicy, Tier

NOTHING_CHANGED = "Nothing changed: that was already so."
LABELS = {
    "allowed_channels": "Allowed channels",
    "threads_inherit": "Threads follow their channel",
    "allowed_roles": "Allowed roles",
    "banned": "Banned members",
    "manager_roles": "Manager roles",
    "per_day": "Images per day",
    "per_month": "Images per month",
    "tiers": "Role tiers",
    "cooldown_seconds": "Cooldown",
    "jobs_per_member": "Images on the way per member",
    "max_resolution": "Largest resolution",
    "references_allowed": "Reference images",
    "upsampling_allowed": "Prompt upsampling",
    "disabled_kinds": "Tools turned off",
    "monthly_budget": "Monthly budget",
    "budget_warn_percent": "Budget warning at",
    "blocked_words": "Blocked words",
    "blocked_patterns": "Blocked patterns",
    "adult_allowed": "Adult content in age-restricted channels",
    "adult_terms": "Adult terms",
    "audit_channel_id": "Audit-log channel",
}


# Shown as a count (the lists can be long); a change names the entries it added or removed.
RULE_LISTS = ("blocked_words", "blocked_patterns", "adult_terms")


def _limit(value: int | None, unit: str = "") -> str:
    return "no limit" if value is None else f"{value}{unit}"


def _tier_limit(value: int | None) -> str:
    return "everyone's" if value == INHERIT else _limit(value)


def tier_text(tier: Tier) -> str:
    size = resolution_label(tier.max_resolution) if tier.max_resolution else "server cap"
    return (
        f"<@&{tier.role_id}>: {_tier_limit(tier.per_day)}/day,"
        f" {_tier_limit(tier.per_month)}/month, up to {size}"
    )


def value_text(field: str, value: Any) -> str:
    """One policy value as a short line of text."""
    if field == "allowed_channels":
        return ", ".join(f"<#{c}>" for c in value) or "all channels"
    if field in ("allowed_roles", "manager_roles"):
        return ", ".join(f"<@&{r}>" for r in value) or (
            "everyone" if field == "allowed_roles" else "none (Manage Server only)"
        )
    if field == "banned":
        return ", ".join(f"<@{m}> ({reason})" for m, reason in value.items()) or "nobody"
    if field == "tiers":
        return "; ".join(tier_text(t) for t in value) or "none"
    if field in ("per_day", "per_month"):
        return _limit(value)
    if field == "cooldown_seconds":
        return f"{value} s" if value else "none"
    if field == "monthly_budget":
        return "no budget" if value is None else f"{value} credits"
    if field == "budget_warn_percent":
        return f"{value} %"
    if field == "max_resolution":
        return resolution_label(str(value))
    if field == "disabled_kinds":
        return ", ".join(gate.KIND_NAMES.get(k, k) for k in value) or "none"
    if field in RULE_LISTS:
        return f"{len(value)} {'entry' if len(value) == 1 else 'entries'}" if value else "none"
    if field == "audit_channel_id":
        return f"<#{value}>" if value else "off"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def diff(before: GuildPolicy, after: GuildPolicy) -> list[tuple[str, str, str]]:
    """(label, before, after) for each field that changed."""
    changes = []
    for field in GuildPolicy.model_fields:
        old, new = getattr(before, field), getattr(after, field)
        if old == new:
            continue
        old_text, new_text = value_text(field, old), value_text(field, new)
        if field in RULE_LISTS:
            moved = [f"+`{x}`" for x in new if x not in old]
            moved += [f"−`{x}`" for x in old if x not in new]
            new_text = f"{new_text} ({', '.join(moved)})"
        changes.append((LABELS.get(field, field), old_text, new_text))
    return changes


def sections(policy: GuildPolicy) -> list[tuple[str, str]]:
    """The effective configuration, grouped the way /flux-admin sets it."""

    def lines(*fields: str) -> str:
        return "\n".join(f"{LABELS[f]}: {value_text(f, getattr(policy, f))}" for f in fields)

    return [
        ("Where", lines("allowed_channels", "threads_inherit")),
        ("Who", lines("allowed_roles", "banned", "manager_roles")),
        (
            "How much",
            lines("per_day", "per_month", "cooldown_seconds", "jobs_per_member", "tiers"),
        ),
        (
            "How big and what",
            lines("max_resolution", "references_allowed", "upsampling_allowed", "disabled_kinds"),
        ),
        ("Spend", lines("monthly_budget", "budget_warn_percent")),
        (
            "Prompt rules",
            lines("blocked_words", "blocked_patterns", "adult_allowed", "adult_terms"),
        ),
        ("Audit", lines("audit_channel_id")),
    ]


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime, str]:
    """[since, until) and a label for a usage period (UTC)."""
    if period == "today":
        return gate.day_start(now), gate.next_day(now), "today"
    if period == "week":
        return now - timedelta(days=7), now + timedelta(seconds=1), "the last 7 days"
    if period == "last-month":
        end = gate.month_start(now)
        return gate.month_start(end - timedelta(days=1)), end, "last month"
    if period == "all":
        return datetime(2015, 1, 1, tzinfo=now.tzinfo), now + timedelta(seconds=1), "all time"
    return gate.month_start(now), gate.next_month(now), "this month"
