"""What the driver knows to place its looks at polled jobs: the learned durations, each job's
readings and costs, the shared request budget and the sweeper that shares pages."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from bot.apiframe.client import ApiframeClient
from bot.apiframe.models import Job
from bot.jobs import schedule
from bot.jobs.config import DriverConfig
from bot.jobs.request import timing_group
from bot.jobs.sweep import Sweeper
from bot.storage.jobs import JobRecord

GROUP_SAMPLES = 3  # timed jobs of a group before it has durations of its own


def completed_when(job: JobRecord, remote: Job, now: datetime) -> datetime:
    """When a job really finished, on our clock: Apiframe's own run time (completedAt −
    createdAt, both on its clock, so no skew between the two) after we submitted it; `now`,
    when we learned of it, if Apiframe gives no times. Learning from `now` would teach the
    bot the times of its own looks: jobs it first looked at late would seem to take long."""
    if job.submitted_at is None or remote.created_at is None or remote.completed_at is None:
        return now
    ran = remote.completed_at - remote.created_at
    return min(now, job.submitted_at + max(ran, timedelta(0)))


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
        self.overall = schedule.Durations.around(config.expected_seconds)
        self.groups: dict[str, schedule.Durations] = {}  # by timing group, once timed
        self.sweeper = Sweeper(client, self.budget, self.readings, self.expected, elapsed)

    def durations(self, job: JobRecord) -> schedule.Durations:
        """How long jobs like this one take: its timing group's, or all jobs' until a few of
        its group are timed."""
        group = timing_group(job.request.kind, vars(job.request))
        return self.groups.get(group, self.overall)

    def expected(self, job: JobRecord) -> float:
        return self.durations(job).expected

    def finish(
        self, job: JobRecord, elapsed: float, progress: int | None, first: schedule.Reading | None
    ) -> float:
        """Seconds from submission at which the job should be done, for the time left shown
        to the member: from its percentages unless they are coarse steps."""
        if not self.readings.telling():
            progress, first = None, None
        return schedule.estimated_finish(elapsed, self.expected(job), progress, first)

    def learn(self, recent: Iterable[tuple[str, float]]) -> None:
        """Learn from recent jobs' timing groups and durations."""
        recent = list(recent)
        self.overall = schedule.Durations.learned(
            [seconds for _, seconds in recent], self.config.expected_seconds
        )
        by_group: defaultdict[str, list[float]] = defaultdict(list)
        for group, seconds in recent:
            by_group[group].append(seconds)
        # A group's own median is its prior: ± DEFAULT_SPREAD around it until ten are timed.
        self.groups = {
            group: schedule.Durations.learned(samples, statistics.median(samples))
            for group, samples in by_group.items()
            if len(samples) >= GROUP_SAMPLES
        }

    def next_delay(
        self,
        job: JobRecord,
        elapsed: float,
        progress: int | None = None,
        first: schedule.Reading | None = None,
    ) -> float:
        """Seconds until the next look at a job (in webhook mode: the next safety poll)."""
        durations = self.durations(job)
        expected = durations.expected
        if self.config.webhook_url:
            return schedule.webhook_safety_delay(
                elapsed, expected, self.config.webhook_safety_seconds
            )
        if not self.readings.telling():
            progress, first = None, None  # coarse steps: the learned durations place looks
        track = self.readings.track(job.id)
        schedule.promise(track, elapsed, expected, progress, first)
        return schedule.next_poll_delay(
            elapsed,
            expected,
            progress,
            first,
            durations=durations,
            track=track,
            pooled=self.readings.pooled(),
        )
