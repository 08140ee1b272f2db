"""The job driver on its own: the real sandbox and a SQLite file, with a plain presenter."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.apiframe.client import ApiframeClient
from bot.images import FittedImage
from bot.jobs.driver import DriverConfig, JobDriver
from bot.jobs.failures import Failure
from bot.jobs.presenter import Progress, Route
from bot.jobs.request import Generate
from bot.storage.db import Database
from bot.storage.jobs import JobRecord, JobStore, NewJob
from bot.storage.migrations import migrate
from tests.conftest import ApiframeSandbox
from tests.factories import create


class SlowPresenter:
    """Records what the driver shows; posting an image waits until `release` is set."""

    def __init__(self) -> None:
        self.posting = asyncio.Event()
        self.release = asyncio.Event()
        self.delivered_ids: list[str] = []

    async def show_progress(self, job: JobRecord, progress: Progress) -> None:
        return None

    async def deliver(
        self, job: JobRecord, image: FittedImage, route: Route, *, original_url: str | None
    ) -> int | None:
        self.posting.set()
        await self.release.wait()
        return None

    async def show_failure(self, job: JobRecord, failure: Failure, route: Route) -> None:
        return None

    async def show_held(self, job: JobRecord) -> None:
        return None

    async def delivered(self, job: JobRecord) -> None:
        self.delivered_ids.append(job.id)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JobStore]:
    url = f"sqlite:///{tmp_path}/driver.db"
    await migrate(url)
    db = Database(url)
    yield JobStore(db)
    await db.dispose()


def new_job() -> NewJob:
    job_id = str(uuid.uuid4())
    return NewJob(
        id=job_id,
        idempotency_key=f"test-{job_id}",
        prompt="a lighthouse at dusk",
        request=Generate(resolution="0.5MP"),
        user_id=1,
        channel_id=2,
        guild_id=3,
        application_id=4,
        interaction_token="token",
        token_expires_at=datetime.now(UTC) + timedelta(minutes=15),
        response_message_id=5,
    )


@pytest.mark.e2e  # slow: real processes, servers or timed waits
async def test_stop_lets_a_delivery_under_way_finish(
    store: JobStore, apiframe: ApiframeSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopping (SIGTERM, `docker stop`) while an image is being posted lets the post finish
    and records it, instead of cutting it off and posting it a second time after restart."""
    presenter = SlowPresenter()
    async with ApiframeClient(apiframe.key, apiframe.url) as client:
        config = DriverConfig(poll_rate=20, expected_seconds=1)
        driver = JobDriver(store, client, presenter, config, owner="test-process")
        job = await create(store, new_job())
        driver.start()
        async with asyncio.timeout(15):
            await presenter.posting.wait()
        stopping = asyncio.create_task(driver.stop())
        await asyncio.sleep(0.2)
        assert not stopping.done()  # waiting for the post, not cancelling it
        presenter.release.set()
        await stopping
    record = await store.get(job.id)
    assert record is not None
    assert record.state == "delivered"
    assert presenter.delivered_ids == [job.id]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.e2e  # slow: real processes, servers or timed waits
async def test_hurry_cuts_the_wait_for_steps_under_way(
    store: JobStore, apiframe: ApiframeSandbox
) -> None:
    """A second stop signal: the post under way is cancelled at once instead of after the
    grace; the job stays completed, to be posted at the next start."""
    presenter = SlowPresenter()
    async with ApiframeClient(apiframe.key, apiframe.url) as client:
        config = DriverConfig(poll_rate=20, expected_seconds=1)
        driver = JobDriver(store, client, presenter, config, owner="test-process")
        job = await create(store, new_job())
        driver.start()
        async with asyncio.timeout(15):
            await presenter.posting.wait()
        stopping = asyncio.create_task(driver.stop(grace=30))
        await asyncio.sleep(0.2)
        assert not stopping.done()
        driver.hurry()
        async with asyncio.timeout(3):  # far less than the 30 s grace
            await stopping
    record = await store.get(job.id)
    assert record is not None
    assert record.state == "completed"
    assert presenter.delivered_ids == []


class CountingPresenter(SlowPresenter):
    """Counts posts; each post takes a while, as an upload to Discord does."""

    def __init__(self) -> None:
        super().__init__()
        self.posts = 0
        self.release.set()

    async def deliver(
        self, job: JobRecord, image: FittedImage, route: Route, *, original_url: str | None
    ) -> int | None:
        self.posts += 1
        await asyncio.sleep(1.0)
        return None


@pytest.mark.e2e  # slow: real processes, servers or timed waits
async def test_a_webhook_completion_is_posted_once(
    store: JobStore, apiframe: ApiframeSandbox
) -> None:
    """The webhook's inline delivery holds the job, so the loop does not post it again."""
    presenter = CountingPresenter()
    async with ApiframeClient(apiframe.key, apiframe.url) as client:
        config = DriverConfig(
            poll_rate=20, expected_seconds=300, webhook_url="http://127.0.0.1:9/hook"
        )
        driver = JobDriver(store, client, presenter, config, owner="test-process")
        job = await create(store, new_job())
        driver.start()
        async with asyncio.timeout(10):
            while (record := await store.get(job.id)) is None or record.apiframe_job_id is None:
                await asyncio.sleep(0.05)
        assert record.apiframe_job_id is not None
        async with asyncio.timeout(10):
            while not (remote := await client.get_job(record.apiframe_job_id)).status.is_terminal:
                await asyncio.sleep(0.1)
        webhook = asyncio.create_task(driver.apply_webhook(record, remote))
        await asyncio.sleep(0.3)
        driver.wake()  # the loop looks for due work while the webhook's post is under way
        await webhook
        await asyncio.sleep(0.5)
        await driver.stop()
    assert presenter.posts == 1
    assert presenter.delivered_ids == [job.id]


@pytest.mark.e2e  # slow: real processes, servers or timed waits
async def test_a_lapsed_submission_lease_is_taken_over(
    store: JobStore, apiframe: ApiframeSandbox
) -> None:
    """A process that died mid-submit left the job `submitting` under its lease: another
    process takes it over once the lease lapses and submits it under the same key."""
    presenter = CountingPresenter()
    job = await create(store, new_job())
    async with ApiframeClient(apiframe.key, apiframe.url) as client:
        config = DriverConfig(poll_rate=20, expected_seconds=1, lease_seconds=5)
        dead = JobDriver(
            store,
            client,
            presenter,
            config,
            owner="dead-process",
            clock=lambda: datetime.now(UTC) - timedelta(seconds=10),  # its lease is long gone
        )
        assert await dead.line.admit(())  # claims the job for submission, then "dies"
        assert (await store.get(job.id)).state == "submitting"  # type: ignore[union-attr]
        driver = JobDriver(store, client, presenter, config, owner="new-process")
        driver.start()
        async with asyncio.timeout(15):
            while presenter.delivered_ids != [job.id]:
                await asyncio.sleep(0.05)
        await driver.stop()
    assert apiframe.sandbox.stats["created"] == 1
    assert {r["idempotency_key"] for r in apiframe.sandbox.requests} == {job.idempotency_key}
