"""How policy values read in Discord: mentions for ids, "no limit" for None, on/off for flags,
in the language of whoever reads them (the moderator, or the audit channel)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot import i18n
from bot.i18n import LANGUAGE_NAMES, Renderable, Text, t, tn
from bot.jobs.describe import resolution_label
from bot.moderation import gate
from bot.moderation.policy import INHERIT, GuildPolicy, Tier

NOTHING_CHANGED = t("Nothing changed: that was already so.")
LABELS: dict[str, Text] = {
    "allowed_channels": t("Allowed channels"),
    "threads_inherit": t("Threads follow their channel"),
    "allowed_roles": t("Allowed roles"),
    "banned": t("Banned members"),
    "manager_roles": t("Manager roles"),
    "per_day": t("Images per day"),
    "per_month": t("Images per month"),
    "tiers": t("Role tiers"),
    "cooldown_seconds": t("Cooldown"),
    "jobs_per_member": t("Images on the way per member"),
    "max_resolution": t("Largest resolution"),
    "references_allowed": t("Reference images"),
    "upsampling_allowed": t("Prompt upsampling"),
    "disabled_kinds": t("Tools turned off"),
    "monthly_budget": t("Monthly budget"),
    "budget_warn_percent": t("Budget warning at"),
    "blocked_words": t("Blocked words"),
    "blocked_patterns": t("Blocked patterns"),
    "adult_allowed": t("Adult content in age-restricted channels"),
    "adult_terms": t("Adult terms"),
    "audit_channel_id": t("Audit-log channel"),
    "language": t("Language of posts everyone reads"),
}
NONE = t("none")
OFF = t("off")
SERVER_DEFAULT = t("server default")

# Shown as a count (the lists can be long); a change names the entries it added or removed.
RULE_LISTS = ("blocked_words", "blocked_patterns", "adult_terms")


Shown = Text | str | int  # an int is shown with the reader's digit grouping


def _show(value: Shown, locale: object) -> str:
    if isinstance(value, int):
        return i18n.number(value, locale)
    return i18n.render(value, locale)


def _limit(value: int | None) -> Shown:
    return t("no limit") if value is None else value


def _tier_limit(value: int | None) -> Shown:
    return t("everyone's") if value == INHERIT else _limit(value)


def tier_text(tier: Tier) -> Text:
    size = resolution_label(tier.max_resolution) if tier.max_resolution else t("server cap")
    role = f"<@&{tier.role_id}>"
    return t(
        "{role}: {daily}/day, {monthly}/month, up to {size}",
        role=role,
        daily=_tier_limit(tier.per_day),
        monthly=_tier_limit(tier.per_month),
        size=size,
    )


def language_name(code: str | None) -> Renderable:
    """A language as its speakers write it; "server default" for None."""
    return SERVER_DEFAULT if code is None else LANGUAGE_NAMES.get(code, code)


def _joined(items: list[Shown], locale: object, empty: Shown, sep: str = ", ") -> str:
    return sep.join(_show(item, locale) for item in items) or _show(empty, locale)


def value_text(field: str, value: Any, locale: object = None) -> str:
    """One policy value as a short line of text in the language of `locale`."""
    if field == "allowed_channels":
        return _joined([f"<#{c}>" for c in value], locale, t("all channels"))
    if field in ("allowed_roles", "manager_roles"):
        nobody = t("everyone") if field == "allowed_roles" else t("none (Manage Server only)")
        return _joined([f"<@&{r}>" for r in value], locale, nobody)
    if field == "banned":
        return _joined([f"<@{m}> ({reason})" for m, reason in value.items()], locale, t("nobody"))
    if field == "tiers":
        return _joined([tier_text(tier) for tier in value], locale, NONE, "; ")
    if field == "disabled_kinds":
        return _joined([gate.KIND_NAMES.get(k, k) for k in value], locale, NONE)
    return _show(_single(field, value), locale)


def _single(field: str, value: Any) -> Shown:
    if field in ("per_day", "per_month"):
        return _limit(value)
    if field == "cooldown_seconds":
        return t("{seconds} s", seconds=value) if value else NONE
    if field == "monthly_budget":
        return t("no budget") if value is None else tn("{count} credit", "{count} credits", value)
    if field == "budget_warn_percent":
        return t("{percent} %", percent=value)
    if field == "max_resolution":
        return resolution_label(str(value))
    if field in RULE_LISTS:
        return tn("{count} entry", "{count} entries", len(value)) if value else NONE
    if field == "audit_channel_id":
        return f"<#{value}>" if value else OFF
    if field == "language":
        return language_name(value)
    if isinstance(value, bool):
        return t("on") if value else OFF
    if isinstance(value, int):
        return value
    return str(value)


def diff(
    before: GuildPolicy, after: GuildPolicy, locale: object = None
) -> list[tuple[str, str, str]]:
    """(label, before, after) for each field that changed, in the language of `locale`."""
    changes = []
    for field in GuildPolicy.model_fields:
        old, new = getattr(before, field), getattr(after, field)
        if old == new:
            continue
        old_text, new_text = value_text(field, old, locale), value_text(field, new, locale)
        if field in RULE_LISTS:
            moved = [f"+`{x}`" for x in new if x not in old]
            moved += [f"−`{x}`" for x in old if x not in new]
            new_text = f"{new_text} ({', '.join(moved)})"
        label: Renderable = LABELS.get(field, field)
        changes.append((i18n.render(label, locale), old_text, new_text))
    return changes


def change_lines(changes: list[tuple[str, str, str]]) -> str:
    """One line per change: **setting**: before → after."""
    return "\n".join(f"**{name}**: {before} → {after}" for name, before, after in changes)


def sections(
    policy: GuildPolicy, locale: object = None, server_locale: object = None
) -> list[tuple[str, str]]:
    """The effective configuration, grouped the way /flux-admin sets it, in the language of
    `locale`; the language of posts names the server's when it follows it."""

    def lines(*fields: str) -> str:
        return "\n".join(
            f"{i18n.render(LABELS[f], locale)}: {value_text(f, getattr(policy, f), locale)}"
            for f in fields
        )

    spoken = policy.language
    language = (
        t("server default ({language})", language=LANGUAGE_NAMES[i18n.language(server_locale)])
        if spoken is None
        else language_name(spoken)
    )
    named = [
        (t("Where"), lines("allowed_channels", "threads_inherit")),
        (t("Who"), lines("allowed_roles", "banned", "manager_roles")),
        (
            t("How much"),
            lines("per_day", "per_month", "cooldown_seconds", "jobs_per_member", "tiers"),
        ),
        (
            t("How big and what"),
            lines("max_resolution", "references_allowed", "upsampling_allowed", "disabled_kinds"),
        ),
        (t("Spend"), lines("monthly_budget", "budget_warn_percent")),
        (
            t("Prompt rules"),
            lines("blocked_words", "blocked_patterns", "adult_allowed", "adult_terms"),
        ),
        (t("Audit"), lines("audit_channel_id")),
        (
            t("Language"),
            f"{i18n.render(LABELS['language'], locale)}: {i18n.render(language, locale)}",
        ),
    ]
    return [(i18n.render(name, locale), value) for name, value in named]


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime, Text]:
    """[since, until) and a label for a usage period (UTC)."""
    if period == "today":
        return gate.day_start(now), gate.next_day(now), t("today")
    if period == "week":
        return now - timedelta(days=7), now + timedelta(seconds=1), t("the last 7 days")
    if period == "last-month":
        end = gate.month_start(now)
        return gate.month_start(end - timedelta(days=1)), end, t("last month")
    if period == "all":
        return datetime(2015, 1, 1, tzinfo=now.tzinfo), now + timedelta(seconds=1), t("all time")
    return gate.month_start(now), gate.next_month(now), t("this month")
