"""Credits, idempotency, faults, outcomes and webhooks on every submission route: generate,
upscale and edit answer alike. Credits are taken at submission and refunded when a job fails
or is cancelled, as Apiframe documents."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator

from bot.apiframe import webhooks
from bot.apiframe.sandbox import SCHEMA_PATH, Fault, Outcome
from tests.pictures import Pictures
from tests.sandbox.conftest import BODY, KEY, Api, Sink, eventually

ROUTES = {
    "generate": "/v2/images/generate",
    "topaz": "/v2/images/upscale",
    "clarity": "/v2/images/upscale",
    "outpaint": "/v2/images/edit",
}
# What each costs with the default knobs: a 2 MP generation; Topaz x2 of a 400x300 picture
# (0.48 MP: the minimum); Clarity and Fill flat.
COSTS = {"generate": 10, "topaz": 2, "clarity": 3, "outpaint": 9}


def body_for(route: str, pictures: Pictures, **changes: Any) -> dict[str, Any]:
    image = pictures.url("red.png")
    bodies: dict[str, dict[str, Any]] = {
        "generate": dict(BODY),
        "topaz": {"model": "topaz-image-upscale", "topazUpscaleParams": {"image": image}},
        "clarity": {"model": "clarity-upscale", "clarityUpscaleParams": {"image": image}},
        "outpaint": {
            "model": "flux-fill-pro",
            "fluxFillParams": {
                "image": image,
                "prompt": "more sky",
                "mode": "outpaint",
                "outpaint": "Zoom out 1.5x",
            },
        },
    }
    return bodies[route] | changes


def schema(name: str) -> Draft202012Validator:
    components = json.loads(SCHEMA_PATH.read_text())["components"]
    return Draft202012Validator({**components["schemas"][name], "components": components})


async def balance(api: Api) -> int:
    return int((await api.call("GET", "/v2/me")).body["team"]["credits"])


@pytest.mark.parametrize("route", list(ROUTES))
async def test_credits_are_taken_at_submission_and_kept_on_completion(
    api: Api, pictures: Pictures, route: str
) -> None:
    """The balance drops by the job's cost when it is accepted, before it runs; a completed
    job keeps it, and its creditCost says the same number all along."""
    api.sandbox.config.credits = 30
    answer = await api.post(ROUTES[route], body_for(route, pictures))
    assert answer.status == 202, answer.body
    assert list(schema("JobAccepted").iter_errors(answer.body)) == []
    assert await balance(api) == 30 - COSTS[route]
    assert api.sandbox.stats["credits"] == COSTS[route]
    assert (await api.job(answer.body["jobId"]))["creditCost"] == COSTS[route]
    api.sandbox.advance(60)
    job = await api.job(answer.body["jobId"])
    assert (job["status"], job["creditCost"]) == ("COMPLETED", COSTS[route])
    assert await balance(api) == 30 - COSTS[route]
    assert api.sandbox.settle_all()["credits"] == COSTS[route]


@pytest.mark.parametrize("ending", ["FAILED", "CANCELLED"])
@pytest.mark.parametrize("route", list(ROUTES))
async def test_a_failed_or_cancelled_job_is_refunded(
    api: Api, pictures: Pictures, route: str, ending: str
) -> None:
    """A scripted failure (an outpaint too) ends with its error, creditCost 0, and gives its
    credits back: the balance and the stats show nothing spent, the refund counted."""
    api.sandbox.config.credits = 30
    error = "Provider returned 500" if ending == "FAILED" else None
    api.sandbox.add_outcome(Outcome(status=ending, error=error))  # type: ignore[arg-type]
    answer = await api.post(ROUTES[route], body_for(route, pictures))
    assert await balance(api) == 30 - COSTS[route]
    api.sandbox.advance(60)
    job = await api.job(answer.body["jobId"])
    assert (job["status"], job["error"], job["creditCost"], job["result"]) == (
        ending,
        error,
        0,
        None,
    )
    assert await balance(api) == 30
    stats = api.sandbox.settle_all()
    assert (stats["credits"], stats["refunded"], stats[ending.lower()]) == (0, COSTS[route], 1)
    assert list(schema("Job").iter_errors(job)) == []


@pytest.mark.parametrize("route", list(ROUTES))
async def test_402_names_what_was_needed_and_what_is_left(
    api: Api, pictures: Pictures, route: str
) -> None:
    """One credit short, a submission is 402 {error, creditsRequired, creditsAvailable} and
    creates nothing; with exactly enough it is accepted and leaves 0."""
    cost = COSTS[route]
    api.sandbox.config.credits = cost - 1
    answer = await api.post(ROUTES[route], body_for(route, pictures))
    assert answer.status == 402
    assert answer.body == {
        "error": "Insufficient credits",
        "creditsRequired": cost,
        "creditsAvailable": cost - 1,
    }
    assert list(schema("InsufficientCredits").iter_errors(answer.body)) == []
    assert api.sandbox.jobs == {}
    api.sandbox.config.credits = cost
    assert (await api.post(ROUTES[route], body_for(route, pictures))).status == 202
    assert await balance(api) == 0


async def test_jobs_in_flight_have_paid_so_the_next_one_sees_what_is_left(
    api: Api, pictures: Pictures
) -> None:
    """With 12 credits an outpaint (9) leaves 3: a second is 402 with 3 available; the first
    one's failure gives the 9 back and the second then goes through."""
    api.sandbox.config.credits = 12
    api.sandbox.add_outcome(Outcome(status="FAILED", error="Request Moderated"))
    assert (await api.edit(body_for("outpaint", pictures))).status == 202
    second = await api.edit(body_for("outpaint", pictures))
    assert (second.status, second.body["creditsAvailable"]) == (402, 3)
    api.sandbox.advance(60)
    assert (await api.edit(body_for("outpaint", pictures))).status == 202
    assert await balance(api) == 3


async def test_a_job_that_never_ends_is_not_charged(api: Api, pictures: Pictures) -> None:
    """A NEVER outcome stands for a job the provider lost: it holds no credits."""
    api.sandbox.config.credits = 20
    api.sandbox.add_outcome(Outcome(status="NEVER"))
    await api.edit(body_for("outpaint", pictures))
    api.sandbox.advance(3600)
    assert (await balance(api), api.sandbox.stats["credits"]) == (20, 0)


async def test_topaz_costs_follow_the_output_size_and_the_knobs(
    api: Api, pictures: Pictures
) -> None:
    """400x300 x6 is 2400x1800, 4.32 MP: 5 credits; at 3 per MP, 15; Clarity and Fill follow
    their flat knobs."""
    image = pictures.url("red.png")
    body = {"model": "topaz-image-upscale", "topazUpscaleParams": {"image": image}}
    six = {"topazUpscaleParams": {"image": image, "upscale_factor": 6}}
    jobs = [await api.upscale(body | six)]
    api.sandbox.config.cost_topaz_per_mp = 3
    jobs.append(await api.upscale(body | six))
    api.sandbox.config.cost_clarity, api.sandbox.config.cost_edit = 4, 12
    jobs.append(await api.upscale(body_for("clarity", pictures)))
    jobs.append(await api.edit(body_for("outpaint", pictures)))
    costs = [(await api.job(j.body["jobId"]))["creditCost"] for j in jobs]
    assert costs == [5, 15, 4, 12]


@pytest.mark.parametrize("route", ["topaz", "clarity", "outpaint"])
async def test_idempotent_replay_and_conflict(api: Api, pictures: Pictures, route: str) -> None:
    """The same Idempotency-Key and body replay the same job with its current status, paid
    once and fetched once; another body under that key is 409."""
    api.sandbox.config.credits = 30
    body = body_for(route, pictures)
    first = await api.post(ROUTES[route], body, **{"Idempotency-Key": "discord-7"})
    api.sandbox.advance(2)
    again = await api.post(ROUTES[route], body, **{"Idempotency-Key": "discord-7"})
    assert again.body == {"jobId": first.body["jobId"], "status": "PROCESSING"}
    api.sandbox.advance(60)
    done = await api.post(ROUTES[route], body, **{"Idempotency-Key": "discord-7"})
    assert (done.status, done.body["status"]) == (202, "COMPLETED")
    other = body_for(route, pictures)
    other[next(k for k in other if k.endswith("Params"))]["seed"] = 4
    conflict = await api.post(ROUTES[route], other, **{"Idempotency-Key": "discord-7"})
    assert conflict.status == 409
    assert "Idempotency-Key" in conflict.body["error"]
    assert (len(api.sandbox.jobs), await balance(api)) == (1, 30 - COSTS[route])
    assert pictures.hits == ["red.png"]


async def test_faults_hit_their_own_route(api: Api, pictures: Pictures) -> None:
    """A fault for `upscale` or `edit` hits only that route; `any` hits whichever comes next."""
    api.sandbox.add_fault(Fault(route="upscale", status=429, retry_after="3"))
    api.sandbox.add_fault(Fault(route="edit", status=503))
    assert (await api.submit()).status == 202
    assert (await api.edit(body_for("outpaint", pictures))).status == 503
    limited = await api.upscale(body_for("topaz", pictures))
    assert (limited.status, limited.body) == (429, {"error": "Rate limit exceeded"})
    assert limited.headers["Retry-After"] == "3"
    assert (await api.upscale(body_for("topaz", pictures))).status == 202
    api.sandbox.add_fault(Fault(route="any", status=500))
    assert (await api.edit(body_for("outpaint", pictures))).status == 500
    assert (await api.edit(body_for("outpaint", pictures))).status == 202
    assert api.sandbox.stats["created"] == 3


async def test_a_lost_answer_still_creates_the_paid_job(api: Api, pictures: Pictures) -> None:
    """lose_answer on edit does the work and drops the connection; the retry with the same
    key finds that job instead of paying again."""
    api.sandbox.config.credits = 20
    api.sandbox.add_fault(Fault(route="edit", kind="lose_answer"))
    body = body_for("outpaint", pictures)
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.edit(body, **{"Idempotency-Key": "k1"})
    assert len(api.sandbox.jobs) == 1
    again = await api.edit(body, **{"Idempotency-Key": "k1"})
    assert again.body["jobId"] == next(iter(api.sandbox.jobs))
    assert await balance(api) == 11


async def test_auth_is_required_on_the_new_routes(api: Api, pictures: Pictures) -> None:
    """Without a key upscale and edit are 401, and nothing is fetched."""
    for route in ("topaz", "outpaint"):
        answer = await api.call(
            "POST", ROUTES[route], key=None, json_body=body_for(route, pictures)
        )
        assert (answer.status, answer.body) == (401, {"error": "API key is required"})
    assert pictures.hits == []


async def test_an_edit_job_reads_like_any_job(api: Api, pictures: Pictures) -> None:
    """GET /v2/jobs/{id} of an outpaint: its model, the input echoed, progress on the clock,
    then the result on the CDN; the object fits Apiframe's Job schema at every step."""
    body = body_for("outpaint", pictures)
    job_id = (await api.edit(body)).body["jobId"]
    seen = []
    for step in (0.5, 1.5, 1.0, 3.0):
        api.sandbox.advance(step)
        job = await api.job(job_id)
        assert list(schema("Job").iter_errors(job)) == []
        seen.append((job["status"], job["progress"]))
    assert seen == [("QUEUED", 0), ("PROCESSING", 10), ("PROCESSING", 35), ("COMPLETED", 100)]
    assert (job["model"], job["input"], job["creditCost"]) == ("flux-fill-pro", body, 9)
    assert job["result"] == {"images": [f"{api.url}/cdn/images/{job_id}-1.jpg"]}


async def test_webhooks_report_an_upscale(api: Api, pictures: Pictures, sink: Sink) -> None:
    """An upscale with a webhook gets the signed `completed` event with its model and cost."""
    body = body_for("clarity", pictures, webhookUrl=sink.url)
    job_id = (await api.upscale(body)).body["jobId"]
    api.sandbox.advance(60)
    await eventually(lambda: bool(sink.deliveries))
    delivery = sink.deliveries[0]
    assert webhooks.verify(delivery.raw, delivery.headers["X-Webhook-Signature"], KEY)
    job = await api.job(job_id)
    assert delivery.body == {
        "event": "completed",
        "jobId": job_id,
        "model": "clarity-upscale",
        "status": "COMPLETED",
        "progress": 100,
        "result": job["result"],
        "creditCost": 3,
        "completedAt": job["completedAt"],
    }
    assert job["result"]["images"][0].endswith(".png")


async def test_a_failed_edit_sends_the_failed_event(
    api: Api, pictures: Pictures, sink: Sink
) -> None:
    """A scripted failure of an outpaint reaches its webhook as `failed` with the error."""
    api.sandbox.add_outcome(Outcome(status="FAILED", error="Request Moderated"))
    await api.edit(body_for("outpaint", pictures, webhookUrl=sink.url))
    api.sandbox.advance(60)
    await eventually(lambda: bool(sink.deliveries))
    await asyncio.sleep(0.05)
    assert sink.events == ["failed"]
    assert sink.deliveries[0].body["error"] == "Request Moderated"
