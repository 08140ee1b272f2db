"""When to look at a running job again, learned from how long jobs really take.

A fixed 2 s loop wastes polls early in a job and still adds ~1 s on average after it ends.
Here polls are sparse early and dense around the expected finish, and all polls share one
request budget so hundreds of jobs in flight never flood Apiframe.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Iterable

DEFAULT_EXPECTED_SECONDS = 20.0  # Apiframe's advertised average for FLUX.2 [max]
MIN_INTERVAL = 0.3
MAX_INTERVAL = 5.0
WEBHOOK_SAFETY_DELAY = 30.0  # after the expected finish, poll once in case a webhook was lost


def expected_duration(recent: Iterable[float], default: float = DEFAULT_EXPECTED_SECONDS) -> float:
    """The typical duration of a job: the median of recent completed jobs, else `default`."""
    samples = [s for s in recent if s > 0]
    if len(samples) < 3:
        return default
    return statistics.median(samples)


def estimated_finish(elapsed: float, expected: float, progress: int | None) -> float:
    """Seconds from submission at which the job should be done (may lie in the past).

    The API's progress, when it gives one, refines the learned expectation.
    """
    finish = expected
    if progress and 5 <= progress < 100 and elapsed > 0:
        finish = max(finish * 0.5, elapsed * 100 / progress)
    return finish


def next_poll_delay(elapsed: float, expected: float, progress: int | None = None) -> float:
    """Delay before the next poll of a job submitted `elapsed` seconds ago."""
    finish = estimated_finish(elapsed, expected, progress)
    remaining = finish - elapsed
    if remaining > MIN_INTERVAL:
        # Halve the distance to the expected finish: few polls early, dense near the end.
        return min(MAX_INTERVAL, max(MIN_INTERVAL, remaining / 2))
    # Past the expected finish: tighten first, then back off slowly for stragglers.
    overdue = elapsed - finish
    return min(MAX_INTERVAL, MIN_INTERVAL + overdue / 5)


def webhook_safety_delay(
    elapsed: float, expected: float, safety: float = WEBHOOK_SAFETY_DELAY
) -> float:
    """In webhook mode: one safety poll `safety` s after the expected finish, then every
    `safety` s."""
    return max(safety, expected + safety - elapsed)


class PollBudget:
    """A token bucket shared by every poll: at most `rate` requests per second on average."""

    def __init__(
        self, rate: float, burst: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, int(rate)))
        self._tokens = self.capacity
        self._clock = clock
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self) -> float:
        """Seconds until a token will be free."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    async def take(self) -> None:
        """Wait for a token; callers queue fairly behind the lock."""
        async with self._lock:
            delay = self.wait_time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._refill()
            self._tokens = max(0.0, self._tokens - 1)
