"""The job store tells the metrics what happens to jobs: each move once, with its timings."""

from __future__ import annotations

from datetime import timedelta

from bot.jobs.request import Generate
from bot.jobs.service import JobService
from bot.metrics import Metrics
from bot.moderation.gate import Limits
from bot.storage.db import Database
from bot.storage.guilds import GuildStore
from bot.storage.jobs import JobRecord, JobStore, utcnow


def value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


async def test_a_delivered_job_is_counted_once_with_its_timings(database: Database) -> None:
    """Created (with its reserved credits), waited, charged and delivered: each family moves
    once, and guarded updates within a state (a progress poll) are not counted as moves."""
    metrics = Metrics()
    store = JobStore(database, events=metrics)
    service = JobService(GuildStore(database), store, lambda: None)
    job = await service.create(
        prompt="a fox",
        request=Generate(resolution="1MP", seed=1),
        limits=Limits(estimate=7),
        user_id=1,
        channel_id=2,
        guild_id=3,
        interaction_id=99,
    )
    assert isinstance(job, JobRecord)
    assert value(metrics, "flux_jobs_created_total", kind="generate") == 1
    assert value(metrics, "flux_credits_reserved_total", kind="generate") == 7
    await metrics.refresh(store)
    assert value(metrics, "flux_queue_length") == 1
    assert value(metrics, "flux_jobs", kind="generate", state="pending") == 1

    await store.transition(job.id, {"pending"}, "submitting")
    assert value(metrics, "flux_queue_wait_seconds_count", kind="generate") == 1
    await store.transition(job.id, {"submitting"}, "queued")
    await store.transition(job.id, {"queued", "processing"}, "processing", progress=10)
    await store.transition(job.id, {"queued", "processing"}, "processing", progress=50)
    await metrics.refresh(store)
    assert value(metrics, "flux_queue_length") == 0
    assert value(metrics, "flux_jobs", kind="generate", state="processing") == 1
    now = utcnow()
    await store.transition(
        job.id, {"queued", "processing"}, "completed", credit_cost=6, completed_at=now
    )
    assert value(metrics, "flux_credits_spent_total", kind="generate") == 6
    await store.transition(
        job.id, {"completed"}, "delivered", delivered_at=now + timedelta(seconds=0.4)
    )
    assert value(metrics, "flux_jobs_finished_total", kind="generate", state="delivered") == 1
    assert value(metrics, "flux_time_to_image_seconds_count", kind="generate") == 1
    assert value(metrics, "flux_completion_to_posted_seconds_count", kind="generate") == 1
    posting = value(metrics, "flux_completion_to_posted_seconds_sum", kind="generate")
    assert abs(posting - 0.4) < 0.01
    await metrics.refresh(store)
    assert value(metrics, "flux_jobs", kind="generate", state="processing") == 0


async def test_failures_are_counted_by_cause_and_retries_by_state(database: Database) -> None:
    """A failed job counts under its cause (an unknown cause as `other`); a step scheduled
    again counts as a retry of the state it was in."""
    metrics = Metrics()
    store = JobStore(database, events=metrics)
    service = JobService(GuildStore(database), store, lambda: None)
    first, second = [
        await service.create(
            prompt="x",
            request=Generate(resolution="1MP", seed=1),
            user_id=1,
            channel_id=2,
            interaction_id=interaction,
        )
        for interaction in (1, 2)
    ]
    assert isinstance(first, JobRecord)
    assert isinstance(second, JobRecord)
    await store.transition(first.id, {"pending"}, "submitting")
    await store.retry_later(first.id, "me", "submitting", attempts=1, at=utcnow())
    assert value(metrics, "flux_job_retries_total", state="submitting") == 1
    await store.transition(first.id, {"submitting"}, "failed", error_kind="provider")
    await store.transition(second.id, {"pending"}, "failed", error_kind="made-up")
    assert value(metrics, "flux_job_failures_total", kind="generate", cause="provider") == 1
    assert value(metrics, "flux_job_failures_total", kind="generate", cause="other") == 1
    assert value(metrics, "flux_jobs_finished_total", kind="generate", state="failed") == 2
