"""Moderators' blocked patterns: regular expressions (the `regex` package's syntax), checked
before they are stored and run with timeouts, failing closed."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from typing import Any

import regex

from bot.i18n import Text, t

log = logging.getLogger(__name__)

MAX_PATTERN_LENGTH = 200
# All blocked patterns of one check together get at most this many `pattern_timeout`s, so a
# guild with many slow patterns cannot stall every command for patterns × timeout.
_MAX_PATTERN_TIMEOUTS = 4


MAX_REPEAT = 1000  # the product of nested counted repeats a pattern may ask for
_COUNT = regex.compile(r"\{(\d*)(?:,(\d*))?\}")


def _count(digits: str | None) -> int:
    # Past nine digits a count is "too many" anyway; int() of thousands of digits raises.
    if not digits:
        return 0
    return int(digits) if len(digits) <= 9 else 10**9


def repeat_size(pattern: str) -> int:
    """The largest product of counted repeats (`{n}`, `{n,m}`) nested in `pattern`: what its
    compiled form grows with. `(?:a{2000}){2000}` is 4,000,000 (seconds and a gigabyte to
    compile), though it is 17 characters long."""
    sizes = [1]  # the running product at each open group
    largest = 1
    last = 1  # the size of the atom just before the current position
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            last = sizes[-1]
            continue
        if char == "[":  # a class is one atom; skip to its end
            end = pattern.find("]", i + 2)
            i = len(pattern) if end < 0 else end + 1
            last = sizes[-1]
            continue
        if char == "(":
            sizes.append(sizes[-1])
        elif char == ")" and len(sizes) > 1:
            last = sizes.pop()
            i += 1
            continue
        elif char == "{" and (count := _COUNT.match(pattern, i)):
            times = max(_count(count.group(1)), _count(count.group(2)))
            grown = last * max(1, times)
            largest = max(largest, grown)
            if len(sizes) > 1:
                sizes[-1] = max(sizes[-1], grown)
            i = count.end()
            continue
        last = sizes[-1]
        i += 1
    return largest


@functools.lru_cache(maxsize=64)  # small: a compiled pattern can be large
def _compile(pattern: str) -> Any:
    """The compiled pattern, or None if it does not compile (the caller fails closed); one
    stored before repeats were bounded is not compiled at all."""
    if repeat_size(pattern) > MAX_REPEAT:
        return None
    try:
        return regex.compile(pattern, regex.IGNORECASE)
    except Exception:  # regex.error, and RecursionError or OverflowError on odd input
        return None


def validate_pattern(pattern: str) -> Text | None:
    """None if `pattern` is a usable blocked pattern, else a short reason (a clause that
    follows "That pattern can't be used:"), in the moderator's language once rendered.

    Patterns are regular expressions in the `regex` package's syntax, case-insensitive,
    searched for anywhere in the prompt and in its normalized form.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        return t(
            "it is {length} characters long; the limit is {limit}",
            length=len(pattern),
            limit=MAX_PATTERN_LENGTH,
        )
    if repeat_size(pattern) > MAX_REPEAT:
        # Checked before compiling: compiling such a pattern is what takes the time and memory.
        return t("its counted repeats ({{n}}) multiply to more than {limit}", limit=MAX_REPEAT)
    try:
        compiled = regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        # The regex package's own words (English) name the problem.
        if exc.pos is None:
            return t("it does not compile: {problem}", problem=exc.msg)
        if exc.pos >= len(pattern):
            return t("it does not compile: {problem} at the end", problem=exc.msg)
        return t(
            "it does not compile: {problem} at character {position}",
            problem=exc.msg,
            position=exc.pos + 1,
        )
    except Exception:
        return t("it does not compile")
    try:
        # A pattern that can match zero characters matches (almost) every prompt.
        for sample in ("", "a", "hello world", "x 1 !"):  # i18n: not shown
            found = compiled.search(sample, timeout=0.05)
            if found is not None and found.end() == found.start():
                return t("it matches the empty string, so it would block almost every prompt")
    except TimeoutError:
        return t("it is too slow to run")
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
