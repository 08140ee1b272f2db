"""Benchmark of the prompt rules, run on every command before any paid work. Prints figures.

    uv run python bench/bench_prompts.py [--runs 2000]

Scenarios (a 2000-character prompt, 500 blocked words, 20 blocked patterns):
1. an ordinary prompt, every rule evaluated (the common case, and no rule stops early);
2. the same without patterns: the word matching alone;
3. a prompt full of leetspeak, spelled-out words and punctuation (every reading built);
4. the same without patterns;
5. an ordinary prompt refused by the adult list near its end;
6. `find_term` alone against the 500 words.
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from bot.moderation.prompts import check_prompt, find_term  # noqa: E402

VOCABULARY = (
    "a portrait of an old lighthouse keeper standing on wet rocks at dusk with dramatic "
    "clouds, cinematic lighting, volumetric fog, highly detailed oil painting by a master; "
    "golden hour reflections on the sea, gulls flying overhead, warm colours, 35mm film grain"
)


def _prompt(rng: random.Random, length: int = 2000) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(VOCABULARY.split()))
    return " ".join(words)[:length]


def _blocked_words(rng: random.Random, count: int = 500) -> list[str]:
    words = {
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 10))) for _ in range(count)
    }
    phrases = [f"{a} {b}" for a, b in zip(list(words)[:50], list(words)[50:100], strict=True)]
    return sorted(words)[: count - len(phrases)] + phrases


PATTERNS = [rf"\b{w}\w*\b" for w in ("zorg", "blarp", "quux", "fnord", "xyzzy")] + [
    r"\bbuy\s+now\b",
    r"https?://\S+\.(?:ru|xyz)\b",
    r"(?:free|cheap)\s+(?:nitro|robux)",
    r"\d{3}-\d{3}-\d{4}",
    r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}",
    r"\b(?:discord\.gg|dsc\.gg)/\w+",
    r"(.)\1{9,}",
    r"\bkill\s+(?:your|ur)self\b",
    r"\bswastika\b",
    r"\bgore\b",
    r"\bbeheading\b",
    r"\bself[- ]?harm\b",
    r"\bsuicide\b",
    r"\bn[i1]gg\w*",
    r"\bf[a@]gg?[o0]t\b",
]


def _figures(label: str, call: Callable[[], object], runs: int) -> None:
    for _ in range(50):  # warm caches, as a running bot has
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"{label:<64} p50 {p50:8.1f} µs   p99 {p99:8.1f} µs   max {samples[-1]:8.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(1)
    words = _blocked_words(rng)
    assert len(PATTERNS) == 20
    assert len(words) == 500
    clean = _prompt(rng)
    messy = " ".join(
        rng.choice([w, w.replace("o", "0").replace("e", "3"), " ".join(w), ".".join(w), f"{w}!!"])
        for w in clean.split()
    )[:2000]
    refused = clean[:1980] + " nude"

    def check(prompt: str, patterns: list[str] = PATTERNS) -> Callable[[], object]:
        return lambda: check_prompt(prompt, blocked_words=words, blocked_patterns=patterns)

    print(f"prompt {len(clean)} chars, {len(words)} blocked words, {len(PATTERNS)} patterns")
    assert check(clean)() is None
    assert check(messy)() is None
    assert check(refused)() is not None
    _figures("1. check_prompt, ordinary prompt", check(clean), args.runs)
    _figures("2. check_prompt, ordinary prompt, no patterns", check(clean, []), args.runs)
    _figures("3. check_prompt, leetspeak/spelled-out/punctuated", check(messy), args.runs)
    _figures(
        "4. check_prompt, leetspeak/spelled-out/punctuated, no patterns",
        check(messy, []),
        args.runs,
    )
    _figures("5. check_prompt, refused as adult near the end", check(refused), args.runs)
    _figures("6. find_term, 500 words", lambda: find_term(clean, words), args.runs)


if __name__ == "__main__":
    main()
