"""Races in the job driver: polls, webhooks, a second process and shutdown working one job.

A scripted Apiframe client makes each interleaving exact; the store is a real SQLite file.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image

from bot.apiframe.client import Downloaded
from bot.apiframe.errors import NetworkError, NotFound
from bot.apiframe.models import Job, JobAccepted, JobStatus
from bot.images import FittedImage
from bot.jobs.driver import DriverConfig, JobDriver
from bot.jobs.failures import Failure
from bot.jobs.presenter import Route
from bot.storage.jobs import JobRecord, JobStore
from tests.factories import create
from tests.test_driver import SlowPresenter, new_job, store

__all__ = ["store"]  # the SQLite job store fixture, shared with the driver's other tests


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()


def remote(status: JobStatus, *, images: bool = True) -> Job:
    done = status is JobStatus.COMPLETED
    return Job(
        id="af-1",
        status=status,
        result=["https://cdn.example/x.png"] if done and images else None,
        creditCost=5 if done else None,
    )


class ScriptedClient:
    """Answers polls with `status`, or raises `error`; a poll may wait for `gate`."""

    def __init__(self) -> None:
        self.status = JobStatus.PROCESSING
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None
        self.polling = asyncio.Event()
        self.polls = 0

    async def submit(self, request: Any, *, idempotency_key: str) -> JobAccepted:
        return JobAccepted(jobId="af-1")

    async def get_job(self, job_id: str) -> Job:
        self.polls += 1
        self.polling.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return remote(self.status)

    async def download(self, url: str, *, max_bytes: int | None = None) -> Downloaded:
        return Downloaded(png(), "image/png")


class Posts(SlowPresenter):
    """Counts posts and failure notices; a post waits for `release` unless told not to."""

    def __init__(self, *, hold: bool = True) -> None:
        super().__init__()
        self.posts = 0
        self.failures = 0
        if not hold:
            self.release.set()

    async def deliver(
        self, job: JobRecord, image: FittedImage, route: Route, *, original_url: str | None
    ) -> int | None:
        self.posts += 1
        return await super().deliver(job, image, route, original_url=original_url)

    async def show_failure(self, job: JobRecord, failure: Failure, route: Route) -> None:
        self.failures += 1


def driver_for(
    store: JobStore, client: ScriptedClient, presenter: Posts, owner: str = "A", **config: Any
) -> Any:
    scripted: Any = client  # stands in for ApiframeClient
    return JobDriver(store, scripted, presenter, DriverConfig(**config), owner=owner)


async def running_job(store: JobStore, *, age: float = 30.0) -> JobRecord:
    """A job Apiframe is processing, submitted `age` seconds ago, next checked in an hour."""
    job = await create(store, new_job())
    now = datetime.now(UTC)
    await store.transition(job.id, {"pending"}, "submitting")
    await store.transition(
        job.id,
        {"submitting"},
        "queued",
        apiframe_job_id="af-1",
        submitted_at=now - timedelta(seconds=age),
        next_check_at=now + timedelta(hours=1),
    )
    record = await store.transition(job.id, {"queued"}, "processing")
    assert record is not None
    return record


async def checked_while_timed_out(
    store: JobStore, driver: Any, *, age: float, checks: int, every: float
) -> JobRecord:
    """A job the bot gave up on, then `checks` passes of the loop `every` seconds apart."""
    job = await running_job(store, age=age)
    await store.transition(
        job.id, {"processing"}, "timed_out", next_check_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    start = datetime.now(UTC)
    for n in range(checks):
        driver.clock = lambda n=n: start + timedelta(seconds=every * n)
        await driver._run_due()
        await asyncio.gather(*driver._steps)
    return job


async def test_a_stale_timeout_poll_cannot_undo_a_webhook_completion(store: JobStore) -> None:
    """A poll read PROCESSING past the hard timeout just before the webhook said COMPLETED:
    applied afterwards, it changes nothing. The image is posted once and never "timed out"."""
    client, presenter = ScriptedClient(), Posts()
    driver = driver_for(store, client, presenter)
    stale = await running_job(store, age=700)  # past the 600 s hard timeout
    hook = asyncio.create_task(driver.apply_webhook(stale, remote(JobStatus.COMPLETED)))
    await asyncio.wait_for(presenter.posting.wait(), 5)
    await driver.apply_remote(stale, remote(JobStatus.PROCESSING))
    presenter.release.set()
    await hook
    record = await store.get(stale.id)
    assert record is not None
    assert (record.state, record.credit_cost, presenter.failures) == ("delivered", 5, 0)
    assert presenter.posts == 1


async def test_a_failing_poll_elsewhere_leaves_a_delivering_process_its_lease(
    store: JobStore,
) -> None:
    """Process B polls the job; process A gets the webhook and starts posting; B's poll then
    fails. B's retry must not free the job from A's lease, or B would post it again."""
    client_b, presenter_b = ScriptedClient(), Posts(hold=False)
    client_b.gate, client_b.error = asyncio.Event(), NetworkError("blip")
    client_a, presenter_a = ScriptedClient(), Posts()
    b = driver_for(store, client_b, presenter_b, owner="B", poll_rate=50)
    a = driver_for(store, client_a, presenter_a, owner="A")
    job = await running_job(store)
    await store.update(job.id, next_check_at=datetime.now(UTC) - timedelta(seconds=1))
    await b._run_due()  # B claims the job and polls; the poll hangs at the gate
    await asyncio.wait_for(client_b.polling.wait(), 5)
    hook = asyncio.create_task(a.apply_webhook(job, remote(JobStatus.COMPLETED)))
    await asyncio.wait_for(presenter_a.posting.wait(), 5)
    client_b.gate.set()  # B's poll fails now
    await asyncio.gather(*b._steps)
    b.clock = lambda: datetime.now(UTC) + timedelta(seconds=5)
    client_b.error, client_b.status = None, JobStatus.COMPLETED
    await b._run_due()
    await asyncio.gather(*b._steps)
    presenter_a.release.set()
    await hook
    assert (presenter_a.posts, presenter_b.posts) == (1, 0)
    assert (await store.get(job.id)).state == "delivered"  # type: ignore[union-attr]


async def test_a_poll_and_a_webhook_in_one_process_take_turns(store: JobStore) -> None:
    """A webhook arriving while this process polls the job waits for the poll, then applies;
    a delivery longer than the lease is not picked up again by the same process's loop."""
    client, presenter = ScriptedClient(), Posts()
    client.gate, client.error = asyncio.Event(), NetworkError("blip")
    driver = driver_for(store, client, presenter, poll_rate=50, lease_seconds=5)
    job = await running_job(store)
    await store.update(job.id, next_check_at=datetime.now(UTC) - timedelta(seconds=1))
    await driver._run_due()
    await asyncio.wait_for(client.polling.wait(), 5)
    hook = asyncio.create_task(driver.apply_webhook(job, remote(JobStatus.COMPLETED)))
    await asyncio.sleep(0.1)
    assert not presenter.posting.is_set()  # waiting for the poll
    client.gate.set()
    await asyncio.wait_for(presenter.posting.wait(), 5)
    driver.clock = lambda: datetime.now(UTC) + timedelta(seconds=10)  # past the lease
    await driver._run_due()
    presenter.release.set()
    await hook
    await asyncio.gather(*driver._steps)
    assert presenter.posts == 1


async def test_stop_hands_unfinished_steps_over_at_once(store: JobStore) -> None:
    """A post cut off by shutdown gives up its lease, so the next start need not wait."""
    client, presenter = ScriptedClient(), Posts()
    driver = driver_for(store, client, presenter)
    job = await running_job(store)
    await store.transition(
        job.id,
        {"processing"},
        "completed",
        result_urls=["https://cdn.example/x.png"],
        next_check_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    driver.start()
    await asyncio.wait_for(presenter.posting.wait(), 5)
    await driver.stop(grace=0.2)
    record = await store.get(job.id)
    assert record is not None
    assert (record.state, record.lease_owner) == ("completed", None)


async def test_a_timed_out_job_stops_being_checked_when_its_checks_keep_failing(
    store: JobStore,
) -> None:
    client, presenter = ScriptedClient(), Posts(hold=False)
    client.error = NotFound("gone")
    driver = driver_for(store, client, presenter, max_attempts=2, lease_seconds=10)
    job = await checked_while_timed_out(store, driver, age=3600, checks=6, every=90)
    record = await store.get(job.id)
    assert record is not None
    assert (client.polls, record.state, record.next_check_at) == (2, "timed_out", None)


async def test_a_late_completion_without_images_stops_the_checks(store: JobStore) -> None:
    client, presenter = ScriptedClient(), Posts(hold=False)
    client.status = JobStatus.COMPLETED

    async def no_images(job_id: str) -> Job:
        client.polls += 1
        return remote(JobStatus.COMPLETED, images=False)

    client.get_job = no_images  # type: ignore[method-assign]
    driver = driver_for(store, client, presenter, lease_seconds=10)
    await checked_while_timed_out(store, driver, age=700, checks=4, every=11)
    assert client.polls == 1


async def test_with_webhooks_progress_schedules_no_extra_poll(store: JobStore) -> None:
    """In webhook mode the next webhook brings the news: a progress change held back by the
    edit window is no reason to poll (in poll mode it is: see the e2e progress tests)."""
    client, presenter = ScriptedClient(), Posts(hold=False)
    driver = driver_for(store, client, presenter, webhook_url="http://127.0.0.1:9/hook")
    job = await running_job(store)
    shown = await store.update(job.id, last_progress_edit_at=datetime.now(UTC))
    assert shown is not None
    progressed = Job(id="af-1", status=JobStatus.PROCESSING, progress=40)
    updated = await driver.apply_remote(shown, progressed)
    assert updated is not None
    assert updated.next_check_at is not None
    assert updated.next_check_at - datetime.now(UTC) > timedelta(seconds=20)


async def test_a_job_a_webhook_took_up_during_the_claim_is_left_to_it(store: JobStore) -> None:
    """The loop claims a due job just as a webhook starts on it: the loop lets go."""
    client, presenter = ScriptedClient(), Posts(hold=False)
    driver = driver_for(store, client, presenter)
    job = await running_job(store)
    await store.update(job.id, next_check_at=datetime.now(UTC) - timedelta(seconds=1))
    webhook: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    driver._busy[job.id] = webhook  # as apply_webhook registers itself
    claim = driver.store.claim_due

    async def claim_then(*args: Any, **kwargs: Any) -> list[JobRecord]:
        kwargs["exclude"] = ()  # the webhook registered after the loop read `_busy`
        return await claim(*args, **kwargs)

    driver.store.claim_due = claim_then
    await driver._run_due()
    assert driver._busy[job.id] is webhook
    assert not driver._steps
    record = await store.get(job.id)
    assert record is not None
    assert record.lease_owner is None
    assert client.polls == 0
