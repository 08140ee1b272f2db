"""Job objects: the clock-driven state machine, result shapes, outcomes, expiry and accounting."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from bot.apiframe.sandbox import Outcome
from tests.sandbox.conftest import BODY, KEY, OTHER_KEY, Api

JOB_FIELDS = {
    "id",
    "status",
    "model",
    "progress",
    "result",
    "error",
    "creditCost",
    "webhookStatus",
    "createdAt",
    "completedAt",
    "expired",
    "input",
}


async def test_a_job_walks_queued_processing_completed_on_the_clock(api: Api) -> None:
    """With 1 s queued and 4 s processing the job is QUEUED, then PROCESSING, then COMPLETED."""
    job_id = await api.submit_ok(resolution="1MP", aspect_ratio="16:9")
    queued = await api.job(job_id)
    assert set(queued) == JOB_FIELDS
    assert queued["id"] == job_id
    assert (queued["status"], queued["progress"], queued["result"]) == ("QUEUED", 0, None)
    assert (queued["model"], queued["error"], queued["completedAt"]) == ("flux-2-max", None, None)
    assert (queued["creditCost"], queued["webhookStatus"], queued["expired"]) == (7, None, False)
    assert queued["input"] == {**BODY, "fluxParams": {"resolution": "1MP", "aspect_ratio": "16:9"}}
    api.sandbox.advance(0.99)
    assert (await api.job(job_id))["status"] == "QUEUED"
    api.sandbox.advance(0.02)
    assert (await api.job(job_id))["status"] == "PROCESSING"
    api.sandbox.advance(3.98)
    assert (await api.job(job_id))["status"] == "PROCESSING"
    api.sandbox.advance(0.01)
    done = await api.job(job_id)
    assert (done["status"], done["progress"], done["error"]) == ("COMPLETED", 100, None)
    assert done["result"] == {"images": [f"{api.url}/cdn/images/{job_id}-1.jpg"]}
    assert done["creditCost"] == 7
    created = datetime.fromisoformat(done["createdAt"])
    completed = datetime.fromisoformat(done["completedAt"])
    assert done["createdAt"].endswith("Z")
    assert (completed - created).total_seconds() == pytest.approx(5.0)


async def test_progress_steps_are_spread_over_processing(api: Api) -> None:
    """Steps [10, 35, 60, 85] appear in order at even fifths of the processing time."""
    job_id = await api.submit_ok()
    api.sandbox.advance(1.0)
    seen = []
    for _ in range(5):
        job = await api.job(job_id)
        seen.append((job["status"], job["progress"]))
        api.sandbox.advance(0.8)
    seen.append(((job := await api.job(job_id))["status"], job["progress"]))
    assert seen == [
        ("PROCESSING", 0),
        ("PROCESSING", 10),
        ("PROCESSING", 35),
        ("PROCESSING", 60),
        ("PROCESSING", 85),
        ("COMPLETED", 100),
    ]


async def test_linear_progress_is_the_percent_done(api: Api) -> None:
    """In linear mode a job reports the floored percent of its processing time, never 100
    before it completes."""
    api.sandbox.config.progress_mode = "linear"
    job_id = await api.submit_ok()
    seen = []
    for step in (1.0, 1.0, 1.3, 1.5, 0.19, 0.01):
        api.sandbox.advance(step)
        seen.append((await api.job(job_id))["progress"])
    assert seen == [0, 25, 57, 95, 99, 100]


async def test_processing_time_can_follow_the_resolution(api: Api) -> None:
    """With 4 MP set to take 10 s, a 4 MP job is still processing when a 1 MP one (the
    default 4 s) is done, and ends 10 s after it started processing."""
    api.sandbox.config.resolution_seconds = {"4MP": 10.0}
    big = await api.submit_ok(resolution="4MP")
    small = await api.submit_ok(resolution="1MP")
    api.sandbox.advance(1 + 4)
    assert (await api.job(small))["status"] == "COMPLETED"
    assert (await api.job(big))["status"] == "PROCESSING"
    api.sandbox.advance(5.99)
    assert (await api.job(big))["status"] == "PROCESSING"
    api.sandbox.advance(0.01)
    assert (await api.job(big))["status"] == "COMPLETED"


async def test_custom_and_empty_progress_steps(api: Api) -> None:
    """Custom steps are used as given; an empty list jumps from 0 straight to 100."""
    api.sandbox.config.progress_steps = [50]
    first = await api.submit_ok()
    api.sandbox.advance(1 + 2.5)
    assert (await api.job(first))["progress"] == 50
    api.sandbox.config.progress_steps = []
    second = await api.submit_ok()
    values = []
    for _ in range(6):
        api.sandbox.advance(1)
        values.append((await api.job(second))["progress"])
    assert set(values) == {0, 100}
    assert values == sorted(values)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("images", lambda u: {"images": [u]}),
        ("string", lambda u: u),
        ("list", lambda u: [u]),
        ("url", lambda u: {"imageUrl": u}),
    ],
)
async def test_result_shapes(api: Api, shape: str, expected: object) -> None:
    """Each result_shape puts the same CDN URL in the documented wrapper, and it downloads."""
    api.sandbox.config.result_shape = shape  # type: ignore[assignment]
    job = await api.finished(output_format="png", resolution="0.5MP")
    url = f"{api.url}/cdn/images/{job['id']}-1.png"
    assert job["result"] == expected(url)  # type: ignore[operator]
    status, data, _ = await api.download(url)
    assert (status, data[:8]) == (200, b"\x89PNG\r\n\x1a\n")


async def test_public_url_is_the_base_of_cdn_links(api: Api) -> None:
    """With public_url set, result URLs use it instead of the request's host."""
    api.sandbox.config.public_url = "https://sandbox.example.org/"
    job = await api.finished()
    assert job["result"]["images"][0].startswith("https://sandbox.example.org/cdn/images/")


async def test_results_expire_after_the_ttl(api: Api) -> None:
    """After result_ttl_seconds the job says expired: true and its CDN URL answers 404."""
    api.sandbox.config.result_ttl_seconds = 30
    job_id = await api.submit_ok(resolution="0.5MP")
    api.sandbox.advance(5)
    job = await api.job(job_id)
    url = job["result"]["images"][0]
    assert job["expired"] is False
    assert (await api.download(url))[0] == 200
    api.sandbox.advance(29)
    assert (await api.job(job_id))["expired"] is False
    api.sandbox.advance(2)
    expired = await api.job(job_id)
    assert (expired["status"], expired["expired"]) == ("COMPLETED", True)
    status, _, headers = await api.download(url)
    assert status == 404
    assert headers["Content-Type"].startswith("application/json")


async def test_no_ttl_means_results_never_expire(api: Api) -> None:
    """Without a TTL a result is still there a year later."""
    job = await api.finished(resolution="0.5MP")
    api.sandbox.advance(365 * 86400)
    assert (await api.job(job["id"]))["expired"] is False
    assert (await api.download(job["result"]["images"][0]))[0] == 200


async def test_bad_unknown_and_foreign_job_ids(api: Api) -> None:
    """A non-UUID is 400 Invalid job id; unknown or another key's job is 404 Job not found."""
    job_id = await api.submit_ok()
    bad = await api.call("GET", "/v2/jobs/not-a-uuid")
    assert (bad.status, bad.body) == (400, {"error": "Invalid job id"})
    unknown = await api.call("GET", f"/v2/jobs/{uuid.uuid4()}")
    assert (unknown.status, unknown.body) == (404, {"error": "Job not found"})
    foreign = await api.call("GET", f"/v2/jobs/{job_id}", key=OTHER_KEY)
    assert (foreign.status, foreign.body) == (404, {"error": "Job not found"})


@pytest.mark.parametrize(
    "error",
    [
        "Provider returned an error: content policy violation",
        "Request Moderated",
        "Provider returned 500",
    ],
)
async def test_scripted_failure_ends_failed_with_the_text_and_costs_nothing(
    api: Api, error: str
) -> None:
    """A FAILED outcome shows its error, progress null, creditCost 0, completedAt, no result."""
    api.sandbox.add_outcome(Outcome(status="FAILED", error=error))
    job = await api.finished()
    assert (job["status"], job["error"], job["progress"]) == ("FAILED", error, None)
    assert (job["result"], job["creditCost"]) == (None, 0)
    assert job["completedAt"] is not None
    assert api.sandbox.settle_all()["failed"] == 1


async def test_cancelled_and_never_finishing_jobs(api: Api) -> None:
    """CANCELLED ends with no result and no cost; NEVER stays PROCESSING for good."""
    api.sandbox.add_outcome(Outcome(status="CANCELLED", error=None))
    api.sandbox.add_outcome(Outcome(status="NEVER"))
    cancelled, never = await api.submit_ok(), await api.submit_ok()
    api.sandbox.advance(86400)
    job = await api.job(cancelled)
    assert (job["status"], job["result"], job["error"], job["creditCost"]) == (
        "CANCELLED",
        None,
        None,
        0,
    )
    stuck = await api.job(never)
    assert (stuck["status"], stuck["completedAt"], stuck["result"]) == ("PROCESSING", None, None)
    assert (await api.download(f"{api.url}/cdn/images/{never}-1.jpg"))[0] == 404


async def test_outcomes_apply_to_the_next_count_jobs_then_stop(api: Api) -> None:
    """An outcome with count=2 fails two jobs; the third completes normally."""
    api.sandbox.add_outcome(Outcome(status="FAILED", error="Request Moderated", count=2))
    ids = [await api.submit_ok() for _ in range(3)]
    api.sandbox.advance(60)
    assert [(await api.job(i))["status"] for i in ids] == ["FAILED", "FAILED", "COMPLETED"]


async def test_stats_keep_only_what_completed_jobs_cost(api: Api) -> None:
    """Created counts paid submissions; every job pays at submission (a replay does not), and
    FAILED and CANCELLED ones are refunded once, however often they are read."""
    api.sandbox.config.credits = 100
    api.sandbox.add_outcome(Outcome(status="FAILED", error="Request Moderated"))
    api.sandbox.add_outcome(Outcome(status="CANCELLED", error=None))
    for resolution in ("4MP", "4MP", "2MP", "1MP"):
        await api.submit_ok(resolution=resolution)
    await api.submit(BODY, **{"Idempotency-Key": "same"})
    await api.submit(BODY, **{"Idempotency-Key": "same"})
    assert api.sandbox.settle_all()["credits"] == 16 + 16 + 10 + 7 + 10
    assert api.sandbox.config.credits == 100 - 59
    api.sandbox.advance(60)
    for job_id in list(api.sandbox.jobs):
        await api.job(job_id)
        await api.job(job_id)
    stats = api.sandbox.settle_all()
    assert (stats["created"], stats["completed"], stats["failed"], stats["cancelled"]) == (
        5,
        3,
        1,
        1,
    )
    assert (stats["credits"], stats["refunded"]) == (10 + 7 + 10, 16 + 16)
    assert api.sandbox.config.credits == 100 - 27
    assert (await api.call("GET", "/v2/me")).body["team"]["credits"] == 73


async def test_jobs_complete_without_anyone_polling(api: Api) -> None:
    """State is computed from the clock: a job nobody polled is COMPLETED when first read."""
    job_id = await api.submit_ok()
    api.sandbox.advance(3600)
    assert (await api.job(job_id))["status"] == "COMPLETED"


async def test_the_api_key_stays_out_of_reprs_and_logs(api: Api) -> None:
    """A job's repr and the request log never show the API key."""
    job_id = await api.submit_ok()
    assert KEY not in repr(api.sandbox.jobs[job_id])
    assert KEY not in repr(api.sandbox.requests)
