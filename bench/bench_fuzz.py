"""A long fuzz of the entry points (the ones the property tests cover, tests/fuzz/targets.py):
how many calls each got, and how many let an exception escape that the entry point does not
document (by type), or returned a wrong outcome. Prints figures; the goal is 0 everywhere.

    uv run python bench/bench_fuzz.py [--calls 10500] [--only images.fit,models.Job] [--seed 1]

`--calls` is the total, shared evenly between the entry points. Hypothesis draws the inputs
(no shrinking: each failure is counted, not minimised); the first of each kind is shown.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from tests.fuzz.targets import TARGETS, Target  # noqa: E402


def run(target: Target, calls: int, random_seed: int) -> tuple[int, Counter[str], dict[str, str]]:
    """Call `target` `calls` times; the count made, the failures by kind, one example each."""
    made = 0
    failures: Counter[str] = Counter()
    examples: dict[str, str] = {}

    @seed(random_seed)
    @settings(
        max_examples=calls,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(target.strategy)
    def fuzz(value: Any) -> None:
        nonlocal made
        made += 1
        try:
            target.call(value)
        except target.expected:
            pass
        except AssertionError:
            failures["wrong outcome"] += 1
            examples.setdefault("wrong outcome", f"{value!r:.300}\n{traceback.format_exc(-2)}")
        except Exception as exc:  # the count is the point: every kind is an escaped error
            kind = type(exc).__name__
            failures[kind] += 1
            examples.setdefault(kind, f"{value!r:.300}\n{traceback.format_exc(-3)}")

    fuzz()
    return made, failures, examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_500, help="total calls (default 10500)")
    parser.add_argument("--only", default="", help="comma-separated entry point names")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    chosen = [t for t in TARGETS if not args.only or t.name in args.only.split(",")]
    per_target = max(1, args.calls // len(chosen))
    logging.disable(logging.WARNING)  # failing-closed patterns log on purpose
    warnings.simplefilter("ignore")  # Pillow's decompression-bomb warnings
    total_calls = total_failures = 0
    shown: list[str] = []
    print(f"{'entry point':<28} {'calls':>7} {'escaped':>8} {'seconds':>8}  kinds")
    for target in chosen:
        started = time.perf_counter()
        made, failures, examples = run(target, per_target, args.seed)
        seconds = time.perf_counter() - started
        count = sum(failures.values())
        kinds = ", ".join(f"{k} {n}" for k, n in failures.most_common()) or "-"
        print(f"{target.name:<28} {made:>7} {count:>8} {seconds:>8.1f}  {kinds}")
        total_calls += made
        total_failures += count
        shown += [f"--- {target.name}: {kind}\n{text}" for kind, text in examples.items()]
    print(f"{'total':<28} {total_calls:>7} {total_failures:>8}")
    for text in shown:
        print(text)


if __name__ == "__main__":
    main()
