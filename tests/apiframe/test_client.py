"""The Apiframe client against real local servers: headers, errors, retries, downloads."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.apiframe import errors
from bot.apiframe.client import USER_AGENT, ApiframeClient, parse_retry_after
from bot.apiframe.models import FluxParams, GenerateRequest, JobStatus
from bot.apiframe.sandbox import Fault, Outcome
from tests.apiframe.conftest import FAST_RETRY, KEY, Reply, SandboxServer, Scripted

REQUEST = GenerateRequest(prompt="a red fox", flux_params=FluxParams(resolution="1MP"))
ACCEPTED = Reply(202, {"jobId": "6f1d2c3b-0000-4000-8000-000000000001", "status": "QUEUED"})


async def test_submit_sends_key_idempotency_key_and_body(
    scripted: Scripted, scripted_client: ApiframeClient
) -> None:
    """A submission carries X-API-Key, the caller's Idempotency-Key, a User-Agent and the JSON."""
    scripted.replies = [ACCEPTED]
    accepted = await scripted_client.submit(REQUEST, idempotency_key="discord-1")
    assert accepted.job_id == "6f1d2c3b-0000-4000-8000-000000000001"
    sent = scripted.seen[0]
    assert sent["path"] == "/v2/images/generate"
    assert sent["headers"]["X-API-Key"] == KEY
    assert sent["headers"]["Idempotency-Key"] == "discord-1"
    assert sent["headers"]["User-Agent"] == USER_AGENT
    assert json.loads(sent["body"]) == {
        "prompt": "a red fox",
        "model": "flux-2-max",
        "fluxParams": {"resolution": "1MP"},
    }


async def test_submit_requires_idempotency_key(scripted_client: ApiframeClient) -> None:
    """Without an idempotency key nothing is sent."""
    with pytest.raises(ValueError, match="idempotency"):
        await scripted_client.submit(REQUEST, idempotency_key="")


@pytest.mark.parametrize(
    ("reply", "error", "check"),
    [
        (
            Reply(400, {"error": "Invalid request body", "details": {"fluxParams.seed": ["bad"]}}),
            errors.BadRequest,
            lambda e: e.details == {"fluxParams.seed": ["bad"]} and "fluxParams.seed" in str(e),
        ),
        (
            Reply(401, {"error": "API key is required"}),
            errors.AuthError,
            lambda e: "missing" in str(e),
        ),
        (
            Reply(403, {"error": "API key is inactive"}),
            errors.AuthError,
            lambda e: "inactive" in str(e),
        ),
        (
            Reply(
                402, {"error": "Insufficient credits", "creditsRequired": 16, "creditsAvailable": 3}
            ),
            errors.InsufficientCredits,
            lambda e: (e.required, e.available) == (16, 3) and "16" in str(e),
        ),
        (Reply(404, {"error": "Job not found"}), errors.NotFound, lambda e: e.status == 404),
        (Reply(409, {"error": "reuse"}), errors.Conflict, lambda e: e.status == 409),
        (Reply(422, {"error": "?"}), errors.ApiframeError, lambda e: not e.retryable),
        (Reply(302, headers={"Location": "/v2/other"}), errors.ApiframeError, lambda e: True),
    ],
    ids=["400", "401", "403", "402", "404", "409", "422", "302"],
)
async def test_errors_map_and_are_not_retried(
    scripted: Scripted, scripted_client: ApiframeClient, reply: Reply, error: type, check
) -> None:
    """Each non-retryable status maps to its exception, after exactly one request."""
    reply.headers["x-request-id"] = "req-1"
    scripted.replies = [reply]
    with pytest.raises(error) as caught:
        await scripted_client.submit(REQUEST, idempotency_key="k")
    assert check(caught.value)
    assert caught.value.request_id == "req-1"
    assert len(scripted.seen) == 1


async def test_retry_after_seconds_and_http_date() -> None:
    """Retry-After is read as seconds or as an HTTP date."""
    assert parse_retry_after("7") == 7.0
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 28 <= (parse_retry_after(soon) or 0) <= 30
    assert parse_retry_after("nonsense") is None
    assert parse_retry_after(None) is None


async def test_429_carries_retry_after_and_gives_up_after_bounded_attempts(
    scripted: Scripted, scripted_client: ApiframeClient
) -> None:
    """Repeated 429s are retried a bounded number of times, then raised with retry_after."""
    scripted.replies = [Reply(429, {"error": "Rate limit exceeded"}, {"Retry-After": "2"})] * 4
    with pytest.raises(errors.RateLimited) as caught:
        await scripted_client.get_job("6f1d2c3b-0000-4000-8000-000000000001")
    assert caught.value.retry_after == 2.0
    assert len(scripted.seen) == FAST_RETRY.max_attempts


async def test_submit_retry_reuses_the_same_idempotency_key(
    scripted: Scripted, scripted_client: ApiframeClient
) -> None:
    """A 503 then 202 sends the submission twice under the identical key: one paid job."""
    scripted.replies = [Reply(503, {"error": "Service temporarily unavailable"}), ACCEPTED]
    accepted = await scripted_client.submit(REQUEST, idempotency_key="discord-42")
    assert accepted.status is JobStatus.QUEUED
    keys = [seen["headers"]["Idempotency-Key"] for seen in scripted.seen]
    assert keys == ["discord-42", "discord-42"]


async def test_dropped_connection_is_a_retried_network_error(
    scripted: Scripted, scripted_client: ApiframeClient
) -> None:
    """A connection closed without an answer is retried; if it persists, NetworkError."""
    scripted.replies = [Reply(drop=True), ACCEPTED]
    assert (await scripted_client.submit(REQUEST, idempotency_key="k")).job_id
    scripted.replies = [Reply(drop=True)] * 4
    with pytest.raises(errors.NetworkError):
        await scripted_client.submit(REQUEST, idempotency_key="k")


async def test_timeout_is_a_network_error() -> None:
    """A server slower than the timeout gives NetworkError, not a hang."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/v2/me", slow)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        no_retry = FAST_RETRY.__class__(max_attempts=1)
        async with ApiframeClient(KEY, str(server.make_url("")), timeout=0.2, retry=no_retry) as c:
            with pytest.raises(errors.NetworkError, match="in time"):
                await c.me()
    finally:
        await server.close()


async def test_unreadable_success_body_is_a_server_error(
    scripted: Scripted, scripted_client: ApiframeClient
) -> None:
    """A 200 whose body is not JSON (or not the expected shape) is a ServerError."""
    scripted.replies = [Reply(200, raw=b"<html>oops</html>")] * 4
    with pytest.raises(errors.ServerError):
        await scripted_client.get_job("x")
    scripted.replies = [Reply(200, {"unexpected": True})] * 4
    with pytest.raises(errors.ServerError, match="shape"):
        await scripted_client.get_job("x")


async def test_full_cycle_against_the_sandbox(
    client: ApiframeClient, sandbox_server: SandboxServer
) -> None:
    """Submit, poll to COMPLETED, download an image of the right type."""
    accepted = await client.submit(REQUEST, idempotency_key="cycle-1")
    job = await client.get_job(accepted.job_id)
    while not job.status.is_terminal:
        await asyncio.sleep(0.05)
        job = await client.get_job(accepted.job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.credit_cost == 7
    image = await client.download(job.image_urls[0])
    assert image.content_type == "image/jpeg"
    assert image.data[:3] == b"\xff\xd8\xff"


async def test_sandbox_faults_are_survived(
    client: ApiframeClient, sandbox_server: SandboxServer
) -> None:
    """A 429 storm and 5xx on submit and poll still end in one paid job."""
    sandbox = sandbox_server.sandbox
    sandbox.add_fault(Fault(route="generate", status=429, retry_after="0", count=2))
    sandbox.add_fault(Fault(route="job", status=502, count=2))
    accepted = await client.submit(REQUEST, idempotency_key="storm")
    job = await client.get_job(accepted.job_id)
    assert job.id == accepted.job_id
    assert sandbox.stats["created"] == 1


async def test_failed_job_reports_its_error(
    client: ApiframeClient, sandbox_server: SandboxServer
) -> None:
    """A FAILED job carries the provider's error and costs nothing."""
    sandbox_server.sandbox.add_outcome(Outcome(status="FAILED", error="Request Moderated"))
    accepted = await client.submit(REQUEST, idempotency_key="fail")
    sandbox_server.sandbox.advance(5)
    job = await client.get_job(accepted.job_id)
    assert job.status is JobStatus.FAILED
    assert job.error == "Request Moderated"
    assert job.credit_cost == 0


async def test_download_cap_by_length_and_by_stream(
    client: ApiframeClient, sandbox_server: SandboxServer, scripted: Scripted
) -> None:
    """Results over the cap are refused, whether announced by Content-Length or streamed."""
    accepted = await client.submit(REQUEST, idempotency_key="cap")
    sandbox_server.sandbox.advance(5)
    url = (await client.get_job(accepted.job_id)).image_urls[0]
    with pytest.raises(errors.ResultTooLarge):
        await client.download(url, max_bytes=1000)

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(10):
            await response.write(b"x" * 500)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/big", chunked)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        with pytest.raises(errors.ResultTooLarge):
            await client.download(str(server.make_url("/big")), max_bytes=2000)
        assert len((await client.download(str(server.make_url("/big")))).data) == 5000
    finally:
        await server.close()


async def test_download_expired_result_is_not_found(
    scripted: Scripted, scripted_client: ApiframeClient
) -> None:
    """A 404 on a result URL means it expired."""
    scripted.replies = [Reply(404, {"error": "gone"})]
    with pytest.raises(errors.NotFound, match="expired"):
        await scripted_client.download(f"{scripted.url}/cdn/images/x-1.png")


async def test_key_is_not_sent_to_other_hosts(scripted: Scripted, client: ApiframeClient) -> None:
    """Downloads from another origin (a CDN) never receive the API key."""
    scripted.replies = [Reply(200, raw=b"img", headers={"Content-Type": "image/png"})]
    await client.download(f"{scripted.url}/cdn/a.png")
    assert "X-API-Key" not in scripted.seen[0]["headers"]


async def test_secret_never_in_repr_errors_or_logs(
    scripted: Scripted, scripted_client: ApiframeClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The API key appears in no repr, exception text or log line, even on failures."""
    caplog.set_level(logging.DEBUG)
    scripted.replies = [Reply(503, {"error": "down"})] * 4 + [
        Reply(401, {"error": "Invalid API key"})
    ]
    seen: list[str] = [repr(scripted_client)]
    for call in (scripted_client.get_job("x"), scripted_client.me()):
        with pytest.raises(errors.ApiframeError) as caught:
            await call
        seen.append(str(caught.value))
        seen.append(repr(caught.value))
    assert KEY not in "".join(seen) + caplog.text


async def _other_host(scripted_replies: list[Reply]) -> tuple[Scripted, TestServer]:
    """A second scripted server, standing for a host other than the API's."""
    other = Scripted(replies=scripted_replies)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", other.handle)
    server = TestServer(app, host="localhost")  # another origin than 127.0.0.1
    await server.start_server()
    other.url = str(server.make_url("")).rstrip("/")
    return other, server


async def test_api_redirects_are_not_followed_with_the_key(
    scripted: Scripted, scripted_client: ApiframeClient
) -> None:
    other, server = await _other_host([Reply(200, {"id": "x"})])
    try:
        scripted.replies = [Reply(302, headers={"Location": f"{other.url}/steal"})]
        with pytest.raises(errors.ApiframeError, match="302"):
            await scripted_client.me()
        assert other.seen == []
    finally:
        await server.close()


async def test_download_redirect_drops_the_key_on_another_host(
    scripted: Scripted, scripted_client: ApiframeClient
) -> None:
    """A result on the API's host that redirects to a CDN: the key is sent to the API only."""
    other, server = await _other_host(
        [Reply(200, raw=b"img", headers={"Content-Type": "image/png"})]
    )
    try:
        scripted.replies = [Reply(302, headers={"Location": f"{other.url}/cdn/a.png"})]
        downloaded = await scripted_client.download(f"{scripted.url}/v2/results/a.png")
        assert downloaded.data == b"img"
        assert scripted.seen[0]["headers"].get("X-API-Key") == KEY
        assert "X-API-Key" not in other.seen[0]["headers"]
    finally:
        await server.close()


async def test_download_retries_server_errors_and_treats_403_as_expired(
    scripted: Scripted, scripted_client: ApiframeClient
) -> None:
    scripted.replies = [
        Reply(500, {"error": "blip"}),
        Reply(200, raw=b"img", headers={"Content-Type": "image/png"}),
    ]
    assert (await scripted_client.download(f"{scripted.url}/cdn/a.png")).data == b"img"
    assert len(scripted.seen) == 2
    # An expired signed CDN link answers 403: the image is gone, the key is not at fault.
    scripted.replies = [Reply(403, raw=b"<Error>AccessDenied</Error>")]
    with pytest.raises(errors.NotFound, match="expired"):
        await scripted_client.download(f"{scripted.url}/cdn/b.png")


@pytest.mark.e2e  # slow: real processes, servers or timed waits
async def test_a_slow_but_steady_download_is_not_cut_off_by_the_request_timeout() -> None:
    """A big result trickling in takes longer than one API call may; only a stall fails."""

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        pause = 0.1 if request.path == "/steady" else 1.0
        for _ in range(8):
            await response.write(b"x" * 100)
            await asyncio.sleep(pause)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/{kind}", trickle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with ApiframeClient(KEY, "http://api.invalid", retry=FAST_RETRY, timeout=0.5) as c:
            steady = await c.download(str(server.make_url("/steady")))
            assert len(steady.data) == 800
            with pytest.raises(errors.NetworkError, match="timed out"):
                await c.download(str(server.make_url("/stalled")), max_bytes=10_000)
    finally:
        await server.close()


async def test_a_lost_answer_to_a_submission_never_buys_a_second_job(
    client: ApiframeClient, sandbox_server: SandboxServer
) -> None:
    """The job was created but its 202 never arrived: the retry, under the same key, gets the
    same job back from Apiframe's idempotency replay."""
    sandbox = sandbox_server.sandbox
    sandbox.add_fault(Fault(route="generate", kind="lose_answer"))
    accepted = await client.submit(REQUEST, idempotency_key="discord-lost")
    assert sandbox.stats["created"] == 1
    assert [r["idempotency_key"] for r in sandbox.requests] == ["discord-lost"] * 2
    assert list(sandbox.jobs) == [accepted.job_id]


async def test_requests_errors_and_retries_are_counted(scripted: Scripted) -> None:
    """Each answer counts under its operation and status, a dropped connection as `network`;
    each failed attempt under its error class, and those retried once more as retries."""
    from bot.metrics import Metrics

    metrics = Metrics()
    scripted.replies = [Reply(503, {}), Reply(200, {"id": "j", "status": "QUEUED"})]
    async with ApiframeClient(
        KEY, scripted.url, retry=FAST_RETRY, timeout=5, counter=metrics
    ) as client:
        assert (await client.get_job("j")).status is JobStatus.QUEUED
        scripted.replies = [Reply(404, {"error": "Not found"})]
        with pytest.raises(errors.NotFound):
            await client.get_job("gone")
        # (aiohttp itself repeats a GET whose kept-alive connection was dropped: a POST.)
        scripted.replies = [Reply(drop=True), ACCEPTED]
        assert (await client.submit(REQUEST, idempotency_key="k")).job_id

    def count(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    requests = "flux_apiframe_requests_total"
    assert count(requests, operation="get_job", status="503") == 1
    assert count(requests, operation="submit", status="network") == 1
    assert count(requests, operation="submit", status="202") == 1
    assert count(requests, operation="get_job", status="200") == 1
    assert count(requests, operation="get_job", status="404") == 1
    failed = "flux_apiframe_errors_total"
    assert count(failed, operation="get_job", error="ServerError") == 1
    assert count(failed, operation="submit", error="NetworkError") == 1
    assert count(failed, operation="get_job", error="NotFound") == 1
    retried = "flux_apiframe_retries_total"
    assert count(retried, operation="get_job", error="ServerError") == 1
    assert count(retried, operation="get_job", error="NotFound") is None
