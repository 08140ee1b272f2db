"""One look at many jobs: when several are due together, a single page of `GET /v2/jobs`
(the key's newest 100 jobs, every state) replaces their polls one by one.

Fifty jobs in flight then cost one request per look instead of fifty, so each can be looked
at right when it should end without exceeding POLL_RATE. A job the page does not hold (older
than its 100 entries, or an entry that did not parse) is polled on its own, as is every job
when the page cannot be had. The page shows the other jobs too: one of ours that it shows
finished is handed to `found` at once, not left until its own look.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bot.apiframe.client import ApiframeClient
from bot.apiframe.errors import ApiframeError
from bot.apiframe.models import Job
from bot.jobs import schedule
from bot.storage.jobs import JobRecord

log = logging.getLogger(__name__)

SWEEP_MIN = 3  # jobs due together that one page serves better than single polls
SWEEP_AHEAD = 1.0  # seconds: jobs due this soon join the sweep (looked at a little early)
PAGE_SIZE = 100  # the most Apiframe's list gives at once

Step = Callable[[JobRecord], Coroutine[Any, Any, None]]
KNOWN = 10_000  # Apiframe ids of our jobs remembered for `found` (the oldest go first)


class Sweeper:
    """Plans the looks at due jobs: one shared page for many, single polls otherwise."""

    def __init__(
        self,
        client: ApiframeClient,
        budget: schedule.PollBudget,
        readings: schedule.Readings,
        expected: Callable[[JobRecord], float],
        elapsed: Callable[[JobRecord], float],
    ) -> None:
        self.client = client
        self.budget = budget
        self.readings = readings
        self.expected = expected
        self.elapsed = elapsed
        self.pages: set[asyncio.Task[dict[str, Job]]] = set()
        self.known: dict[str, str] = {}  # Apiframe id → our id, of jobs looked at
        self.found: Callable[[str, Job], None] | None = None  # our id, the finished job

    def plan(
        self, jobs: list[JobRecord], poll: Step, apply: Callable[..., Any]
    ) -> list[tuple[JobRecord, Step]]:
        """A step for each job: each reads the shared page, or polls on its own."""
        for job in jobs:
            if job.apiframe_job_id:
                if len(self.known) >= KNOWN and job.apiframe_job_id not in self.known:
                    self.known.pop(next(iter(self.known)))
                self.known[job.apiframe_job_id] = job.id
        if len(jobs) < SWEEP_MIN:
            return [(job, poll) for job in jobs]
        for job in jobs:  # the page's one request, shared
            self.readings.spend(job.id, 1 / len(jobs))
        page = asyncio.create_task(self._page(jobs), name="jobs-page")  # i18n: not shown
        self.pages.add(page)
        page.add_done_callback(self.pages.discard)

        async def look_in_page(job: JobRecord) -> None:
            remote = (await asyncio.shield(page)).get(job.apiframe_job_id or "")
            if remote is None:
                await poll(job)
            else:
                await apply(job, remote)

        return [(job, look_in_page) for job in jobs]

    def urgent(self, job: JobRecord) -> bool:
        first, last = self.readings.first(job.id), self.readings.last(job.id)
        if not self.readings.telling():
            first = last = None  # coarse steps: the learned durations say when it ends
        return schedule.is_final_look(self.elapsed(job), self.expected(job), first, last)

    async def _page(self, jobs: list[JobRecord]) -> dict[str, Job]:
        """The newest jobs by Apiframe id; empty if the page could not be had."""
        await self.budget.take(urgent=any(self.urgent(job) for job in jobs))
        try:
            page = await self.client.list_jobs(limit=PAGE_SIZE)
        except ApiframeError as exc:
            log.info("could not list jobs (%s); polling %d jobs one by one", exc, len(jobs))
            return {}
        listed = {job.id: job for job in page.jobs}
        looked = {job.apiframe_job_id for job in jobs}
        for apiframe_id, remote in listed.items():
            ours = self.known.pop(apiframe_id, None) if remote.status.is_terminal else None
            if ours and apiframe_id not in looked and self.found is not None:
                self.found(ours, remote)
        return listed

    async def stop(self) -> None:
        for page in list(self.pages):
            page.cancel()
        await asyncio.gather(*self.pages, return_exceptions=True)
