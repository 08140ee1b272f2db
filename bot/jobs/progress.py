"""What a member sees of a running job: the way its messages go (the interaction while its
token lasts, else the channel) and progress edits, coalesced to one per job per interval."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.jobs import schedule
from bot.jobs.config import DriverConfig
from bot.jobs.presenter import DeliveryError, Presenter, Progress, Route, Stage
from bot.storage.jobs import JobRecord, JobStore

log = logging.getLogger(__name__)

# (job, seconds since submission, its percentage, an earlier reading) → when it should end
Finish = Callable[[JobRecord, float, int | None, schedule.Reading | None], float]


class ProgressShower:
    """Builds and shows progress; `finish` says when a job should be done, from its elapsed
    seconds, percentage and earlier reading (the driver's `Looks.finish`; without it, from
    the configured time)."""

    def __init__(
        self,
        store: JobStore,
        presenter: Presenter,
        config: DriverConfig,
        clock: Callable[[], datetime],
        finish: Finish | None = None,
    ) -> None:
        self.store = store
        self.presenter = presenter
        self.config = config
        self.clock = clock
        self.finish: Finish = finish or (
            lambda job, elapsed, percent, first: schedule.estimated_finish(
                elapsed, config.expected_seconds, percent, first
            )
        )

    def route(self, job: JobRecord) -> Route:
        """Where the job's messages go now: its interaction while the token lasts."""
        expires = job.token_expires_at
        margin = timedelta(seconds=self.config.token_margin)
        if job.interaction_token and expires and self.clock() < expires - margin:
            return Route.INTERACTION
        return Route.CHANNEL

    def waiting(self, job: JobRecord, position: int) -> Progress:
        """A job at `position` in our line, with when it should be done."""
        expected = self.finish(job, 0.0, None, None)
        eta = expected + position * expected / max(1, self.config.max_in_flight)
        return Progress(
            stage=Stage.WAITING,
            elapsed_seconds=(self.clock() - job.created_at).total_seconds(),
            position=position,
            eta_seconds=eta,
        )

    def running(
        self, job: JobRecord, percent: int | None, first: schedule.Reading | None = None
    ) -> Progress:
        """A job at Apiframe, `percent` done if it said so (`first`: an earlier reading)."""
        elapsed = (self.clock() - (job.submitted_at or job.created_at)).total_seconds()
        finish = self.finish(job, elapsed, percent, first)
        stage = Stage.GENERATING if job.state == "processing" else Stage.QUEUED
        return Progress(
            stage=stage,
            percent=percent,
            elapsed_seconds=elapsed,
            eta_seconds=max(0.0, finish - elapsed),
            slow=elapsed > self.config.soft_timeout,
        )

    async def show(self, job: JobRecord, progress: Progress, *, force: bool = False) -> bool:
        """Show progress, coalesced to one edit per job per `progress_interval`; True if shown."""
        now = self.clock()
        last = job.last_progress_edit_at
        if not force and last and (now - last).total_seconds() < self.config.progress_interval:
            return False
        if self.route(job) is not Route.INTERACTION:
            return False  # past the token's life nothing can be edited; the result still comes
        # Guarded by the state, so a job cancelled or finished meanwhile is not shown as
        # still running.
        if (
            await self.store.transition(job.id, {job.state}, job.state, last_progress_edit_at=now)
            is None
        ):
            return False
        try:
            await self.presenter.show_progress(job, progress)
        except DeliveryError as exc:
            log.warning("job %s: progress not shown: %s", job.id, exc)
            if exc.expired:  # Discord ended the token early: from now on, as if it had expired
                await self.store.update(job.id, token_expires_at=now)
            elif exc.gone:  # the member deleted it: no more edits; the image goes to the channel
                await self.store.update(job.id, response_message_id=None)
            return False
        return True

    async def show_held(self, job: JobRecord) -> None:
        """Tell the member, where the response can still be edited, that /flux-inbox has it."""
        try:
            await self.presenter.show_held(job)
        except DeliveryError as exc:
            log.info("job %s: inbox notice not shown: %s", job.id, exc)
