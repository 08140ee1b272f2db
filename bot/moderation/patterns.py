"""Moderators' blocked patterns: regular expressions (the `regex` package's syntax), checked
before they are stored and run with timeouts, failing closed."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from typing import Any

import regex

log = logging.getLogger(__name__)

MAX_PATTERN_LENGTH = 200
# All blocked patterns of one check together get at most this many `pattern_timeout`s, so a
# guild with many slow patterns cannot stall every command for patterns × timeout.
_MAX_PATTERN_TIMEOUTS = 4


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> Any:
    """The compiled pattern, or None if it does not compile (the caller fails closed)."""
    try:
        return regex.compile(pattern, regex.IGNORECASE)
    except Exception:  # regex.error, and RecursionError or OverflowError on odd input
        return None


def validate_pattern(pattern: str) -> str | None:
    """None if `pattern` is a usable blocked pattern, else a short plain-English reason.

    Patterns are regular expressions in the `regex` package's syntax, case-insensitive,
    searched for anywhere in the prompt and in its normalized form.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"it is {len(pattern)} characters long; the limit is {MAX_PATTERN_LENGTH}"
    try:
        compiled = regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        if exc.pos is None:
            where = ""
        elif exc.pos >= len(pattern):
            where = " at the end"
        else:
            where = f" at character {exc.pos + 1}"
        return f"it does not compile: {exc.msg}{where}"
    except Exception:
        return "it does not compile"
    try:
        # A pattern that can match zero characters matches (almost) every prompt.
        for sample in ("", "a", "hello world", "x 1 !"):
            found = compiled.search(sample, timeout=0.05)
            if found is not None and found.end() == found.start():
                return "it matches the empty string, so it would block almost every prompt"
    except TimeoutError:
        return "it is too slow to run"
    return None


def pattern_hit(patterns: Sequence[str], texts: Sequence[str], pattern_timeout: float) -> bool:
    """Whether any pattern matches any text. Fails closed: a pattern that does not compile,
    times out, or finds the shared time budget spent counts as a match."""
    budget = pattern_timeout * min(len(patterns) * len(texts), _MAX_PATTERN_TIMEOUTS)
    deadline = time.perf_counter() + budget
    for number, pattern in enumerate(patterns, 1):
        compiled = _compile(pattern)
        if compiled is None:
            log.warning("blocked pattern #%d does not compile; counted as a match", number)
            return True
        for text in texts:
            timeout = min(pattern_timeout, deadline - time.perf_counter())
            if timeout <= 0:
                log.warning(
                    "blocked patterns used up their %.3f s budget at pattern #%d; "
                    "counted as a match",
                    budget,
                    number,
                )
                return True
            try:
                if compiled.search(text, timeout=timeout) is not None:
                    return True
            except TimeoutError:
                log.warning(
                    "blocked pattern #%d timed out after %.3f s; counted as a match",
                    number,
                    timeout,
                )
                return True
    return False
