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
from bot.storage.db import Database
from bot.storage.jobs import JobRecord, JobStore, NewJob
from bot.storage.migrations import migrate
from tests.conftest import ApiframeSandbox


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
        params={"resolution": "0.5MP"},
        user_id=1,
        channel_id=2,
        guild_id=3,
        application_id=4,
        interaction_token="token",
        token_expires_at=datetime.now(UTC) + timedelta(minutes=15),
        response_message_id=5,
    )


async def test_stop_lets_a_delivery_under_way_finish(
    store: JobStore, apiframe: ApiframeSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopping (SIGTERM, `docker stop`) while an image is being posted lets the post finish
    and records it, instead of cutting it off and posting it a second time after restart."""
    presenter = SlowPresenter()
    async with ApiframeClient(apiframe.key, apiframe.url) as client:
        config = DriverConfig(poll_rate=20, expected_seconds=1)
        driver = JobDriver(store, client, presenter, config, owner="test-process")
        job = await store.create(new_job())
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
