"""When to look at a running job again, learned from how long jobs really take.

A fixed 2 s loop wastes polls early in a job and still adds ~1 s on average after it ends.
Here a job is looked at rarely: once to read its progress, once more to learn the rate it
moves at, then just after the finish that rate predicts. Without a rate to trust (no
percentages, coarse ones, or a prediction that came and went), looks are dense from when the
earliest of recent jobs ended, spending what the 2 s loop would have spent on the job (and
what ended jobs left unspent) and no more. All polls share one request budget so hundreds of
jobs in flight never flood Apiframe.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

DEFAULT_EXPECTED_SECONDS = 20.0  # Apiframe's advertised average for FLUX.2 [max]
MIN_INTERVAL = 0.3
MAX_INTERVAL = 5.0
OVERDUE_INTERVAL = 0.2  # between looks once a job is past its expected finish
PROBE_INTERVAL = 8.0  # the longest wait between looks at a job that reports progress
FINISH_LAG = 0.05  # how long after the expected finish the look that should find it comes
NAIVE_INTERVAL = 2.0  # the product page's loop: a job's looks cost at most one request per 2 s
DEFAULT_SPREAD = 0.35  # until enough jobs are timed, they end within ± this of the expected
SPREAD_SAMPLES = 10  # timed jobs needed to learn the range they end in
BACKOFF = 20.0  # past the latest expected end, looks slow by 1 s per this many s overdue
COARSE_WINDOW = 100  # recent percentages looked at to tell coarse steps from real progress
COARSE_SAMPLES = 8  # percentages needed before calling them coarse
COARSE_VALUES = 5  # this many distinct values or fewer (or under a tenth of them) are steps
POOL_CAP = 100.0  # requests saved on ended jobs kept for denser looks at running ones
POOL_SHARE = 5.0  # the most of them one running job may count on: a lone job stays sparse
WEBHOOK_SAFETY_DELAY = 30.0  # after the expected finish, poll once in case a webhook was lost


def expected_duration(recent: Iterable[float], default: float = DEFAULT_EXPECTED_SECONDS) -> float:
    """The typical duration of a job: the median of recent completed jobs, else `default`."""
    samples = [s for s in recent if s > 0]
    if len(samples) < 3:
        return default
    return statistics.median(samples)


@dataclass(frozen=True, slots=True)
class Durations:
    """How long jobs take: the typical time and the range nearly all of them end in."""

    expected: float
    early: float
    late: float

    @classmethod
    def around(cls, expected: float, prior: float | None = None) -> Durations:
        """The range before enough jobs are timed: ± DEFAULT_SPREAD around both the learned
        time and the configured prior (a few timed jobs, the first of a burst to end, are
        the short ones)."""
        low, high = min(expected, prior or expected), max(expected, prior or expected)
        return cls(expected, low * (1 - DEFAULT_SPREAD), high * (1 + DEFAULT_SPREAD))

    @classmethod
    def learned(
        cls, recent: Iterable[float], default: float = DEFAULT_EXPECTED_SECONDS
    ) -> Durations:
        """From recent jobs' durations: their median, and their 5th to 95th percentile widened
        by a tenth of that range."""
        samples = sorted(s for s in recent if s > 0)
        expected = expected_duration(samples, default)
        if len(samples) < SPREAD_SAMPLES:
            return cls.around(expected, default)
        quantiles = statistics.quantiles(samples, n=20, method="inclusive")
        low, high = quantiles[0], quantiles[-1]
        margin = (high - low) / 10
        return cls(expected, min(expected, low - margin), max(expected, high + margin))


@dataclass(slots=True)
class Track:
    """What the looks at one job have cost (`spent`, in requests: a page shared by k jobs
    costs each 1/k), what the last one cost (`share`), and the earliest finish a rate has
    promised (a look then that finds the job running means the rate is not to be trusted)."""

    spent: float = 0.0
    share: float = 1.0
    promised: float | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """One look at a running job: `elapsed` s after submission it said `progress` %."""

    elapsed: float
    progress: int


class Readings:
    """Each running job's first reading with a percentage (with a later one it gives the rate
    the job moves at) and its latest reading. Only a hint for when to look (lost on restart,
    learned again), so it is kept in memory and bounded."""

    def __init__(self, keep: int = 10_000) -> None:
        self.keep = keep
        self._first: dict[str, Reading] = {}
        self._last: dict[str, Reading] = {}
        self._tracks: dict[str, Track] = {}
        self._values: deque[int] = deque(maxlen=COARSE_WINDOW)  # recent percentages, all jobs
        self.pool = 0.0  # requests the 2 s loop would have spent on ended jobs that we did not

    def pooled(self) -> float:
        """Each running job's part of what looks at ended jobs saved (at most POOL_SHARE), to
        spend on denser looks: stragglers, whose own savings went on pages shared with jobs
        long done, need them most."""
        return min(POOL_SHARE, self.pool / max(1, len(self._tracks)))

    def telling(self) -> bool:
        """Whether the percentages say when jobs end. Not when recent ones take only a few
        values: coarse steps, each held for a good part of a job, place looks worse than the
        learned durations alone."""
        values = self._values
        if len(values) < COARSE_SAMPLES:
            return True
        return len(set(values)) > max(COARSE_VALUES, len(values) // 10)

    def first(self, job_id: str) -> Reading | None:
        return self._first.get(job_id)

    def last(self, job_id: str) -> Reading | None:
        return self._last.get(job_id)

    def track(self, job_id: str) -> Track:
        """The job's costs and promises so far (a fresh one if it has none yet)."""
        track = self._tracks.get(job_id)
        if track is None:
            if len(self._tracks) >= self.keep:
                self._tracks.pop(next(iter(self._tracks)))  # the oldest: most likely abandoned
            track = self._tracks[job_id] = Track()
        return track

    def spend(self, job_id: str, share: float) -> None:
        """Count a look at the job that cost it `share` of a request."""
        track = self.track(job_id)
        track.spent += share
        track.share = share

    def note(
        self, job_id: str, elapsed: float, progress: int | None, terminal: bool
    ) -> Reading | None:
        """Record a look at a job; returns the earlier first reading, if any."""
        if terminal:
            self._first.pop(job_id, None)
            self._last.pop(job_id, None)
            if (track := self._tracks.pop(job_id, None)) is not None:
                # What it saved goes to the pool, what it overspent comes out of it; the pool
                # is shared by jobs in flight together, so it empties when the last one ends.
                saved = self.pool + elapsed / NAIVE_INTERVAL - track.spent
                self.pool = min(POOL_CAP, max(0.0, saved)) if self._tracks else 0.0
            return None
        first = self._first.get(job_id)
        if len(self._last) >= self.keep and job_id not in self._last:
            oldest = next(iter(self._last))  # the oldest: most likely abandoned
            self._first.pop(oldest, None)
            self._last.pop(oldest)
        self._last[job_id] = Reading(elapsed, progress or 0)
        if progress and 0 < progress < 100:
            self._values.append(progress)
            if first is None:
                self._first[job_id] = Reading(elapsed, progress)
        return first


def progress_rate(first: Reading | None, elapsed: float, progress: int | None) -> float | None:
    """Percent per second between an earlier reading and this one, if progress moved.

    Measured from two readings, so the time a job spent queued does not skew it."""
    if first is None or not progress or progress >= 100 or progress <= first.progress:
        return None
    if elapsed - first.elapsed < MIN_INTERVAL:
        return None
    return (progress - first.progress) / (elapsed - first.elapsed)


def estimated_finish(
    elapsed: float, expected: float, progress: int | None, first: Reading | None = None
) -> float:
    """Seconds from submission at which the job should be done (may lie in the past).

    The API's progress, when it gives one, refines the learned expectation: from one
    reading by proportion (late by the time spent queued), from two by the rate between them.
    """
    rate = progress_rate(first, elapsed, progress)
    if rate is not None and progress is not None:
        return elapsed + (100 - progress) / rate
    finish = expected
    if progress and 5 <= progress < 100 and elapsed > 0:
        finish = max(finish * 0.5, elapsed * 100 / progress)
    return finish


def next_poll_delay(
    elapsed: float,
    expected: float,
    progress: int | None = None,
    first: Reading | None = None,
    *,
    durations: Durations | None = None,
    track: Track | None = None,
    pooled: float = 0.0,
) -> float:
    """Delay before the next poll of a job submitted `elapsed` seconds ago.

    `durations`: the range recent jobs ended in (default: ± DEFAULT_SPREAD of `expected`);
    `track`: what looks at this job cost so far and what a rate promised; `pooled`: requests
    saved on ended jobs that this one may spend."""
    window = durations or Durations.around(expected)
    track = track or Track()
    finish = estimated_finish(elapsed, expected, progress, first)
    remaining = finish - elapsed
    missed = track.promised is not None and elapsed >= track.promised
    if not missed and progress_rate(first, elapsed, progress) is not None and remaining > 0:
        # The rate says when it ends: one look just after that, none in between.
        return min(PROBE_INTERVAL, remaining + FINISH_LAG)
    if not missed and progress and 5 <= progress < 100 and elapsed < window.early - MIN_INTERVAL:
        # One reading: look again most of the way there, to learn the rate (by the time the
        # earliest jobs end: the time it spent queued makes one reading a poor guide).
        probe = min(remaining * 0.8, window.early - elapsed)
        return min(PROBE_INTERVAL, max(MIN_INTERVAL, probe))
    if not missed and elapsed < window.early - MIN_INTERVAL:
        # Before the earliest jobs end: one look halfway there (to read a percentage, if the
        # job gives one), the next when they start to end.
        halfway = window.early / 2
        until = halfway if elapsed < halfway - MIN_INTERVAL else window.early
        return min(PROBE_INTERVAL, max(MIN_INTERVAL, until - elapsed))
    # It may end any moment: looks as dense as the 2 s loop's requests pay for, spread up to
    # the latest expected end; past that, slowly fewer for stragglers.
    late = max(window.late, track.promised or 0.0)
    dense = dense_interval(elapsed, late, track, pooled)
    overdue = max(0.0, elapsed - late)
    return min(MAX_INTERVAL, max(dense, OVERDUE_INTERVAL + overdue / BACKOFF))


def dense_interval(elapsed: float, until: float, track: Track, pooled: float = 0.0) -> float:
    """The interval between looks that spends, by `until`, what a 2 s loop would have spent
    on the job (its savings so far, its part of the `pooled` savings of ended jobs, and one
    request per NAIVE_INTERVAL from now), at the cost of its last look; never under
    OVERDUE_INTERVAL."""
    horizon = max(until - elapsed, NAIVE_INTERVAL)
    saved = max(0.0, elapsed / NAIVE_INTERVAL - track.spent + pooled)
    looks = (saved + horizon / NAIVE_INTERVAL) / max(track.share, 1e-6)
    return max(OVERDUE_INTERVAL, horizon / looks)


def promise(
    track: Track, elapsed: float, expected: float, progress: int | None, first: Reading | None
) -> None:
    """Note the finish a rate predicts (the earliest so far), so a look then that finds the
    job still running switches it to dense looks."""
    if progress_rate(first, elapsed, progress) is None:
        return
    finish = estimated_finish(elapsed, expected, progress, first)
    if finish > elapsed and (track.promised is None or finish < track.promised):
        track.promised = finish


def is_final_look(
    elapsed: float, expected: float, first: Reading | None, last: Reading | None
) -> bool:
    """Whether a poll now, given the readings so far, is expected to find the job done: such
    polls go first."""
    finish = expected
    if last is not None:
        earlier = first if first is not None and first.elapsed < last.elapsed else None
        finish = estimated_finish(last.elapsed, expected, last.progress, earlier)
    return elapsed >= finish - FINISH_LAG


def webhook_safety_delay(
    elapsed: float, expected: float, safety: float = WEBHOOK_SAFETY_DELAY
) -> float:
    """In webhook mode: one safety poll `safety` s after the expected finish, then every
    `safety` s."""
    return max(safety, expected + safety - elapsed)


class PollBudget:
    """A token bucket shared by every poll: at most `rate` requests per second on average.

    A look expected to find a job done (`urgent`) goes before the looks that only read
    progress, so under load it is the probes that wait, not the finished images.
    """

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
        self._urgent_waiting = 0
        self._lock = asyncio.Lock()
        self._urgent_lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self) -> float:
        """Seconds until a token will be free."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    async def take(self, *, urgent: bool = False) -> None:
        """Wait for a token; callers queue fairly behind their lock, urgent ones first."""
        if urgent:
            self._urgent_waiting += 1
        try:
            async with self._urgent_lock if urgent else self._lock:
                while True:
                    delay = self.wait_time()
                    if delay == 0 and (urgent or not self._urgent_waiting):
                        self._tokens -= 1
                        return
                    await asyncio.sleep(delay or 1 / self.rate)
        finally:
            if urgent:
                self._urgent_waiting -= 1
