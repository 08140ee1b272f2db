"""Submitting jobs: auth, schema validation, credits and idempotency, as Apiframe answers them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from bot.apiframe.sandbox import Outcome
from tests.pictures import Pictures
from tests.sandbox.conftest import BODY, INACTIVE_KEY, KEY, OTHER_KEY, Api


async def test_accepted_job_is_202_queued_with_a_uuid4_and_headers(api: Api) -> None:
    """A valid submission answers 202 {jobId: uuid4, status: QUEUED} as JSON with x-request-id."""
    answer = await api.submit()
    assert answer.status == 202
    assert set(answer.body) == {"jobId", "status"}
    assert answer.body["status"] == "QUEUED"
    assert uuid.UUID(answer.body["jobId"]).version == 4
    assert answer.headers["Content-Type"].startswith("application/json")
    assert uuid.UUID(answer.headers["x-request-id"])


@pytest.mark.parametrize(
    ("key", "status", "error"),
    [
        (None, 401, "API key is required"),
        ("afk_unknown", 401, "Invalid API key"),
        (INACTIVE_KEY, 403, "API key is inactive"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/images/generate"),
        ("GET", "/v2/jobs/3f1c9a52-7b1e-4d3a-9a63-0f5a2b1c7d10"),
        ("GET", "/v2/me"),
    ],
)
async def test_auth_failures(
    api: Api, key: str | None, status: int, error: str, method: str, path: str
) -> None:
    """Missing, unknown and inactive keys get 401/401/403 with the documented texts."""
    answer = await api.call(method, path, key=key, json_body=BODY if method == "POST" else None)
    assert (answer.status, answer.body) == (status, {"error": error})
    assert answer.headers["x-request-id"]
    assert api.sandbox.stats["created"] == 0


def _with(**changes: Any) -> dict[str, Any]:
    return {**BODY, **changes}


def _flux(**params: Any) -> dict[str, Any]:
    return {**BODY, "fluxParams": params}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (_with(prompt=""), "prompt"),
        (_with(prompt="x" * 2001), "prompt"),
        ({"model": "flux-2-max"}, "prompt"),
        (_with(prompt=5), "prompt"),
        (_with(model="dall-e-3"), "model"),
        ({"prompt": "x"}, "model"),
        (_with(webhook_url="https://example.com/hook"), "webhook_url"),
        (_with(n=2), "n"),
        (_with(fluxParams="2MP"), "fluxParams"),
        (_flux(safety_tolerance=2), "fluxParams.safety_tolerance"),
        (_flux(resolution="1 MP"), "fluxParams.resolution"),
        (_flux(resolution="8MP"), "fluxParams.resolution"),
        (_flux(aspect_ratio="wide"), "fluxParams.aspect_ratio"),
        (_flux(aspect_ratio="16/9"), "fluxParams.aspect_ratio"),
        (_flux(output_format="gif"), "fluxParams.output_format"),
        (_flux(output_quality=101), "fluxParams.output_quality"),
        (_flux(output_quality=-1), "fluxParams.output_quality"),
        (_flux(output_quality=9.5), "fluxParams.output_quality"),
        (_flux(image_prompt="not a url"), "fluxParams.image_prompt"),
        (_flux(image_prompt_strength=1.5), "fluxParams.image_prompt_strength"),
        (_flux(image_prompt_strength=True), "fluxParams.image_prompt_strength"),
        (_flux(input_images=["https://a.example/x.png"] * 11), "fluxParams.input_images"),
        (_flux(input_images=["ftp:/nope"]), "fluxParams.input_images"),
        (_flux(input_images="https://a.example/x.png"), "fluxParams.input_images"),
        (_flux(aspect_ratio="0:1"), "fluxParams.aspect_ratio"),
        (_flux(aspect_ratio="16:00"), "fluxParams.aspect_ratio"),
        (_flux(seed=1.5), "fluxParams.seed"),
        (_flux(seed="42"), "fluxParams.seed"),
        (_flux(prompt_upsampling="yes"), "fluxParams.prompt_upsampling"),
        (_with(webhookUrl="not-a-url"), "webhookUrl"),
        (_with(webhookUrl="https://h.example/x", webhookEvents=[]), "webhookEvents"),
        (_with(webhookUrl="https://h.example/x", webhookEvents=["started"]), "webhookEvents"),
        (_with(webhookUrl="https://h.example/x", webhookEvents="completed"), "webhookEvents"),
    ],
)
async def test_each_validation_rule_reports_its_json_path(
    api: Api, body: dict[str, Any], path: str
) -> None:
    """Each schema violation is 400 {error: Invalid request body, details: {path: [msg]}}."""
    answer = await api.submit(body)
    assert answer.status == 400
    assert answer.body["error"] == "Invalid request body"
    assert path in answer.body["details"]
    assert all(isinstance(m, str) for m in answer.body["details"][path])
    assert api.sandbox.jobs == {}


async def test_every_valid_option_is_accepted(api: Api, pictures: Pictures) -> None:
    """A body using every documented field at its limits is accepted (its references are real
    pictures: the sandbox fetches them)."""
    body = {
        "prompt": "x" * 2000,
        "model": "flux-2-max",
        "fluxParams": {
            "resolution": "match_input_image",
            "aspect_ratio": "21:9",
            "output_format": "webp",
            "output_quality": 0,
            "image_prompt": pictures.url("red.png"),
            "image_prompt_strength": 1,
            "input_images": [pictures.url("red.png")] * 10,
            "seed": -3,
            "prompt_upsampling": False,
        },
        "webhookUrl": "http://127.0.0.1:9/hook",
        "webhookEvents": ["progress", "completed", "failed"],
    }
    answer = await api.submit(body)
    assert answer.status == 202, answer.body


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2"])
async def test_malformed_json_is_400(api: Api, raw: bytes) -> None:
    """A body that is not JSON answers 400 with an error text and creates nothing."""
    answer = await api.call(
        "POST", "/v2/images/generate", data=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400
    assert answer.body["error"]
    assert api.sandbox.jobs == {}


async def test_a_json_array_body_is_rejected(api: Api) -> None:
    """A JSON body that is not an object is an invalid request body."""
    answer = await api.submit([BODY])  # type: ignore[arg-type]
    assert (answer.status, answer.body["error"]) == (400, "Invalid request body")


@pytest.mark.parametrize(
    ("resolution", "cost"), [("0.5MP", 7), ("1MP", 7), ("2MP", 10), ("4MP", 16), (None, 10)]
)
async def test_insufficient_credits_is_402_with_both_numbers(
    api: Api, resolution: str | None, cost: int
) -> None:
    """Below the cost (7 + 3 per extra MP, default 2MP) a submission is 402, not created."""
    api.sandbox.config.credits = cost - 1
    body = _flux(resolution=resolution) if resolution else BODY
    answer = await api.submit(body)
    assert answer.status == 402
    assert answer.body == {
        "error": "Insufficient credits",
        "creditsRequired": cost,
        "creditsAvailable": cost - 1,
    }
    api.sandbox.config.credits = cost
    assert (await api.submit(body)).status == 202


async def test_running_jobs_have_paid_their_credits(api: Api) -> None:
    """A job pays at submission, so parallel jobs cannot overspend; a failure refunds it."""
    api.sandbox.config.credits = 10
    api.sandbox.add_outcome(Outcome(status="FAILED", error="Provider returned 500"))
    await api.submit_ok(resolution="1MP")
    assert (await api.call("GET", "/v2/me")).body["team"]["credits"] == 3
    second = await api.submit(_flux(resolution="1MP"))
    assert (second.status, second.body["creditsAvailable"]) == (402, 3)
    api.sandbox.advance(60)
    assert api.sandbox.available_credits() == 10
    await api.submit_ok(resolution="1MP")
    api.sandbox.advance(60)
    api.sandbox.settle_all()
    assert api.sandbox.config.credits == 3


async def test_cost_knobs_change_the_price(api: Api) -> None:
    """The per-MP price is configurable and shows up in creditCost."""
    api.sandbox.config.cost_first_mp, api.sandbox.config.cost_per_extra_mp = 10, 5
    job = await api.finished(resolution="4MP")
    assert job["creditCost"] == 25


async def test_idempotent_replay_returns_the_same_job_and_current_status(api: Api) -> None:
    """Same key and body replay 202 with the same jobId and its current status, unpaid."""
    first = await api.submit(BODY, **{"Idempotency-Key": "discord-1"})
    api.sandbox.advance(2)
    again = await api.submit(BODY, **{"Idempotency-Key": "discord-1"})
    assert again.status == 202
    assert again.body == {"jobId": first.body["jobId"], "status": "PROCESSING"}
    api.sandbox.advance(60)
    done = await api.submit(BODY, **{"Idempotency-Key": "discord-1"})
    assert done.body == {"jobId": first.body["jobId"], "status": "COMPLETED"}
    assert api.sandbox.settle_all()["created"] == 1
    assert api.sandbox.stats["credits"] == 10


async def test_idempotency_conflict_is_409(api: Api) -> None:
    """The same key with a different body is 409 and creates nothing."""
    await api.submit(BODY, **{"Idempotency-Key": "k"})
    answer = await api.submit(_with(prompt="something else"), **{"Idempotency-Key": "k"})
    assert answer.status == 409
    assert "Idempotency-Key" in answer.body["error"]
    assert len(api.sandbox.jobs) == 1


async def test_idempotency_keys_are_per_api_key_and_expire_after_24h(api: Api) -> None:
    """Another API key's identical key is a new job; after 24 h the key is forgotten."""
    first = await api.submit(BODY, **{"Idempotency-Key": "k"})
    other = await api.call(
        "POST",
        "/v2/images/generate",
        key=OTHER_KEY,
        json_body=BODY,
        headers={"Idempotency-Key": "k"},
    )
    assert other.body["jobId"] != first.body["jobId"]
    api.sandbox.advance(23 * 3600)
    assert (await api.submit(BODY, **{"Idempotency-Key": "k"})).body["jobId"] == first.body["jobId"]
    api.sandbox.advance(2 * 3600)
    later = await api.submit(BODY, **{"Idempotency-Key": "k"})
    assert (later.status, later.body["status"]) == (202, "QUEUED")
    assert later.body["jobId"] != first.body["jobId"]


async def test_overlong_idempotency_key_is_rejected(api: Api) -> None:
    """An Idempotency-Key over 255 characters is 400; 255 is fine."""
    assert (await api.submit(BODY, **{"Idempotency-Key": "k" * 255})).status == 202
    answer = await api.submit(BODY, **{"Idempotency-Key": "k" * 256})
    assert answer.status == 400


async def test_me_describes_user_team_and_key(api: Api) -> None:
    """GET /v2/me returns user, team (with credits) and the key's prefix, never the whole key."""
    api.sandbox.config.credits = 500
    answer = await api.call("GET", "/v2/me")
    assert answer.status == 200
    assert set(answer.body) == {"user", "team", "apiKey"}
    assert {"id", "name", "credits"} <= set(answer.body["team"])
    assert answer.body["team"]["credits"] == 500
    assert set(answer.body["apiKey"]) == {"id", "name", "prefix"}
    assert KEY.startswith(answer.body["apiKey"]["prefix"])
    assert KEY not in str(answer.body)
