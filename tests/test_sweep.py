"""Looks at many jobs at once: one page of GET /v2/jobs instead of a poll per job."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from bot.apiframe.client import ApiframeClient
from bot.apiframe.models import Job, JobPage
from bot.apiframe.sandbox import Fault
from bot.jobs import schedule
from bot.jobs.driver import DriverConfig, JobDriver
from bot.jobs.sweep import SWEEP_MIN, Sweeper
from bot.storage.jobs import JobRecord, JobStore
from tests.conftest import ApiframeSandbox
from tests.factories import create
from tests.test_driver import SlowPresenter, new_job, store  # noqa: F401 (fixture)


async def run_jobs(jobs_in: JobStore, apiframe: ApiframeSandbox, count: int) -> SlowPresenter:
    presenter = SlowPresenter()
    presenter.release.set()
    async with ApiframeClient(apiframe.key, apiframe.url) as client:
        config = DriverConfig(poll_rate=20, expected_seconds=1, max_in_flight_per_member=count)
        driver = JobDriver(jobs_in, client, presenter, config, owner="test-process")
        jobs = [await create(jobs_in, new_job()) for _ in range(count)]
        driver.start()
        try:
            async with asyncio.timeout(20):
                while len(presenter.delivered_ids) < count:
                    await asyncio.sleep(0.05)
        finally:
            await driver.stop()
    assert sorted(presenter.delivered_ids) == sorted(job.id for job in jobs)
    return presenter


async def test_jobs_due_together_share_one_page(
    store: JobStore,  # noqa: F811
    apiframe: ApiframeSandbox,
) -> None:
    """Eight jobs started together are looked at through pages of the job list: fewer
    status requests in all than jobs, and every image delivered."""
    await run_jobs(store, apiframe, 8)
    stats = apiframe.sandbox.stats
    assert stats["lists"] >= 1
    assert stats["lists"] + stats["polls"] < 8


async def test_without_the_list_every_job_is_polled_alone(
    store: JobStore,  # noqa: F811
    apiframe: ApiframeSandbox,
) -> None:
    """When the list answers 500 (retried, then given up), the jobs are polled one by one
    and still all delivered."""
    apiframe.sandbox.add_fault(Fault(route="jobs", status=500, count=1000))
    await run_jobs(store, apiframe, 4)
    assert apiframe.sandbox.stats["polls"] >= 4


class FakeClient:
    """Answers the list with the jobs it was given."""

    def __init__(self, page: list[Job]) -> None:
        self.page = page
        self.lists = 0

    async def list_jobs(self, *, limit: int) -> JobPage:
        self.lists += 1
        return JobPage(jobs=self.page, hasMore=True)


def record(apiframe_id: str) -> JobRecord:
    return JobRecord.model_construct(id=f"ours-{apiframe_id}", apiframe_job_id=apiframe_id)


async def test_a_job_the_page_lacks_is_polled_on_its_own() -> None:
    """The page answers for the jobs it holds; one beyond it (older than the newest 100) is
    polled alone; fewer than SWEEP_MIN due jobs are simply polled."""
    listed = [Job(id=f"j{i}", status="PROCESSING", progress=40) for i in range(3)]
    client = FakeClient(listed)
    sweeper = Sweeper(
        cast(ApiframeClient, client),
        schedule.PollBudget(100),
        schedule.Readings(),
        lambda job: 20.0,
        lambda job: 5.0,
    )
    polled: list[str] = []
    applied: list[tuple[str, str]] = []

    async def poll(job: JobRecord) -> None:
        polled.append(job.id)

    async def apply(job: JobRecord, remote: Job) -> Any:
        applied.append((job.id, remote.id))

    jobs = [record(f"j{i}") for i in range(4)]
    await asyncio.gather(*(step(job) for job, step in sweeper.plan(jobs, poll, apply)))
    assert client.lists == 1
    assert applied == [(f"ours-j{i}", f"j{i}") for i in range(3)]
    assert polled == ["ours-j3"]
    few = [record("j0")] * (SWEEP_MIN - 1)
    assert [step for _, step in sweeper.plan(few, poll, apply)] == [poll] * (SWEEP_MIN - 1)


async def test_a_page_hands_over_other_jobs_it_shows_finished() -> None:
    """A job of ours looked at before, not due now, that the page shows finished is handed to
    `found` at once (and only once); a due one goes through its own step; a running one
    waits for its look. Each due job is charged its share of the page."""
    listed = [
        Job(id="due", status="COMPLETED", progress=100),
        Job(id="done", status="COMPLETED", progress=100),
        Job(id="running", status="PROCESSING", progress=40),
        Job(id="due2", status="PROCESSING", progress=50),
        Job(id="due3", status="PROCESSING", progress=50),
    ]
    readings = schedule.Readings()
    sweeper = Sweeper(
        cast(ApiframeClient, FakeClient(listed)),
        schedule.PollBudget(100),
        readings,
        lambda job: 20.0,
        lambda job: 5.0,
    )
    found: list[tuple[str, str]] = []
    sweeper.found = lambda ours, remote: found.append((ours, remote.id))

    async def poll(job: JobRecord) -> None:
        pass

    async def apply(job: JobRecord, remote: Job) -> Any:
        pass

    sweeper.plan([record("done"), record("running")], poll, apply)  # looked at alone before
    for _ in range(2):
        due = [record("due"), record("due2"), record("due3")]
        await asyncio.gather(*(step(job) for job, step in sweeper.plan(due, poll, apply)))
    assert found == [("ours-done", "done")]
    assert readings.track("ours-due2").spent == pytest.approx(2 / 3)
