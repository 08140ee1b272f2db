"""Limits and checks of what staff put on the lists (blocked words, adult terms, patterns)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.i18n import t
from bot.moderation.policy import GuildPolicy
from bot.moderation.prompts import normalize
from bot.storage.guilds import PolicyRefused

MAX_WORDS = 500
MAX_PATTERNS = 50
MAX_TERM = 100


TERM_HELP = t("Give a word or phrase with at least two letters or digits in it.")


def no_limit(value: int | None) -> int | None:
    return value if value else None


def term(text: str) -> str | None:
    """A word or phrase as stored, or None when it would match next to nothing useful: its
    matching form ("c++" reads as "c") needs two letters or digits."""
    word = " ".join(text.lower().split())
    return word if len(normalize(word).replace(" ", "")) >= 2 else None


def added(old: tuple[str, ...], entry: str, most: int) -> tuple[str, ...]:
    """`old` with `entry` at the end; refused when already there or the list is full."""
    if entry in old:
        raise PolicyRefused(t("That is already on the list."))
    if len(old) >= most:
        raise PolicyRefused(t("The list is full ({most} entries); remove one first.", most=most))
    return (*old, entry)


def unblocked(text: str) -> Callable[[GuildPolicy], dict[str, Any]]:
    """The edit that unblocks `text`: a blocked word (as stored) or else a pattern (as
    written); refused when it is neither."""
    word = " ".join(text.lower().split())

    def edit(policy: GuildPolicy) -> dict[str, Any]:
        if word in policy.blocked_words:
            return {"blocked_words": tuple(w for w in policy.blocked_words if w != word)}
        if text in policy.blocked_patterns:
            return {"blocked_patterns": tuple(p for p in policy.blocked_patterns if p != text)}
        raise PolicyRefused(t("That word or pattern isn't blocked."))

    return edit
