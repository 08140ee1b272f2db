"""What the driver knows to place its looks at polled jobs: the learned durations, each job's
readings and costs, the shared request budget and the sweeper that shares pages."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.apiframe.client import ApiframeClient
from bot.jobs import schedule
from bot.jobs.config import DriverConfig
from bot.jobs.sweep import Sweeper
from bot.storage.jobs import JobRecord


class Looks:
    """When to look at each job next, and at what cost."""

    def __init__(
        self,
        client: ApiframeClient,
        config: DriverConfig,
        elapsed: Callable[[JobRecord], float],
    ) -> None:
        self.config = config
        self.budget = schedule.PollBudget(config.poll_rate, burst=max(1, int(config.poll_rate)))
        self.readings = schedule.Readings()
        self.durations = schedule.Durations.around(config.expected_seconds)
        self.sweeper = Sweeper(client, self.budget, self.readings, self.expected, elapsed)

    def expected(self) -> float:
        return self.durations.expected

    def learn(self, recent: Iterable[float]) -> float:
        """Learn from recent jobs' durations; returns the typical one."""
        self.durations = schedule.Durations.learned(recent, self.config.expected_seconds)
        return self.durations.expected

    def next_delay(
        self,
        job_id: str,
        elapsed: float,
        progress: int | None = None,
        first: schedule.Reading | None = None,
    ) -> float:
        """Seconds until the next look at a job (in webhook mode: the next safety poll)."""
        expected = self.durations.expected
        if self.config.webhook_url:
            return schedule.webhook_safety_delay(
                elapsed, expected, self.config.webhook_safety_seconds
            )
        if not self.readings.telling():
            progress, first = None, None  # coarse steps: the learned durations place looks
        track = self.readings.track(job_id)
        schedule.promise(track, elapsed, expected, progress, first)
        return schedule.next_poll_delay(
            elapsed,
            expected,
            progress,
            first,
            durations=self.durations,
            track=track,
            pooled=self.readings.pooled(),
        )
