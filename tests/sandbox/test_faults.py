"""Response faults and the /_sandbox control routes, as tests and other processes drive them."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from bot.apiframe.sandbox import Fault
from tests.sandbox.conftest import BODY, KEY, Api


async def test_429_with_retry_after_then_normal(api: Api) -> None:
    """A queued 429 answers once with Retry-After and the documented error, then submits work."""
    api.sandbox.add_fault(Fault(route="generate", status=429, retry_after="7"))
    limited = await api.submit()
    assert (limited.status, limited.body) == (429, {"error": "Rate limit exceeded"})
    assert limited.headers["Retry-After"] == "7"
    assert limited.headers["x-request-id"]
    assert (await api.submit()).status == 202
    assert api.sandbox.stats["created"] == 1


async def test_429_without_an_explicit_retry_after_still_sends_one(api: Api) -> None:
    """A 429 always carries Retry-After (1 s unless told otherwise)."""
    api.sandbox.add_fault(Fault(route="job", status=429))
    job_id = await api.submit_ok()
    answer = await api.call("GET", f"/v2/jobs/{job_id}")
    assert (answer.status, answer.headers["Retry-After"]) == (429, "1")


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, "Service temporarily unavailable"), (500, "Internal error"), (502, "Internal error")],
)
async def test_server_errors(api: Api, status: int, error: str) -> None:
    """5xx faults answer JSON errors with that status and create no job."""
    api.sandbox.add_fault(Fault(route="generate", status=status))
    answer = await api.submit()
    assert (answer.status, answer.body) == (status, {"error": error})
    assert api.sandbox.jobs == {}


async def test_faults_count_and_route(api: Api) -> None:
    """A fault hits only its route, `count` times; `any` hits whichever route comes next."""
    api.sandbox.add_fault(Fault(route="job", status=503, count=2))
    job_id = await api.submit_ok()
    statuses = [(await api.call("GET", f"/v2/jobs/{job_id}")).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    api.sandbox.add_fault(Fault(route="any", status=500))
    assert (await api.call("GET", "/v2/me")).status == 500
    assert (await api.call("GET", "/v2/me")).status == 200


async def test_cdn_faults(api: Api) -> None:
    """Downloads can fail too: a 500 on the CDN, then the image."""
    job = await api.finished(resolution="0.5MP")
    api.sandbox.add_fault(Fault(route="cdn", status=500))
    url = job["result"]["images"][0]
    assert (await api.download(url))[0] == 500
    assert (await api.download(url))[0] == 200


async def test_dropped_connection(api: Api) -> None:
    """A drop closes the connection without an answer; the client sees a disconnect."""
    api.sandbox.add_fault(Fault(route="generate", kind="drop"))
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.submit()
    assert api.sandbox.jobs == {}
    assert (await api.submit()).status == 202


async def test_latency(api: Api) -> None:
    """A latency fault delays the answer, which is otherwise normal."""
    api.sandbox.add_fault(Fault(route="me", kind="latency", delay=0.2))
    started = time.perf_counter()
    answer = await api.call("GET", "/v2/me")
    assert answer.status == 200
    assert time.perf_counter() - started >= 0.19
    started = time.perf_counter()
    await api.call("GET", "/v2/me")
    assert time.perf_counter() - started < 0.15


async def test_latency_trips_a_client_timeout(api: Api) -> None:
    """A delay longer than the client's timeout surfaces as a client timeout."""
    api.sandbox.add_fault(Fault(route="generate", kind="latency", delay=1.0))
    with pytest.raises(asyncio.TimeoutError):
        async with api.http.post(
            f"{api.url}/v2/images/generate",
            json=BODY,
            headers={"X-API-Key": KEY},
            timeout=aiohttp.ClientTimeout(total=0.1),
        ) as response:
            await response.read()


async def test_control_faults_and_outcomes_over_http(api: Api) -> None:
    """POST /_sandbox/faults and /_sandbox/outcomes (no API key) script the next answers."""
    answer = await api.call(
        "POST",
        "/_sandbox/faults",
        key=None,
        json_body={"route": "generate", "status": 429, "retry_after": "2"},
    )
    assert (answer.status, answer.body) == (200, {"faults": 1})
    outcome = {"status": "FAILED", "error": "Provider returned 500"}
    await api.call("POST", "/_sandbox/outcomes", key=None, json_body=outcome)
    assert (await api.submit()).status == 429
    job_id = await api.submit_ok()
    await api.call("POST", "/_sandbox/advance", key=None, json_body={"seconds": 60})
    job = await api.job(job_id)
    assert (job["status"], job["error"]) == ("FAILED", "Provider returned 500")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_sandbox/faults", {"kind": "explode"}),
        ("/_sandbox/faults", {"stauts": 503}),
        ("/_sandbox/outcomes", {"status": "EXPLODED"}),
        ("/_sandbox/webhooks", {"dorp": True}),
        ("/_sandbox/advance", {"seconds": "soon"}),
    ],
)
async def test_control_rejects_unknown_knobs(api: Api, path: str, body: dict[str, object]) -> None:
    """A misspelt or invalid knob is a 400 naming it, and changes nothing."""
    answer = await api.call("POST", path, key=None, json_body=body)
    assert (answer.status, answer.body["error"]) == (400, "Invalid control request")
    assert (api.sandbox.faults, api.sandbox.outcomes) == ([], [])


async def test_control_config_refuses_unknown_settings(api: Api) -> None:
    """PATCH /_sandbox/config with an unknown setting is 400 and keeps the config."""
    answer = await api.call("PATCH", "/_sandbox/config", key=None, json_body={"queued_secs": 0})
    assert answer.status == 400
    assert api.sandbox.config.queued_seconds == 1.0


async def test_control_stats_requests_config_and_reset(api: Api) -> None:
    """Stats, the request log (without the key), config changes and reset work over HTTP."""
    await api.submit(BODY, **{"Idempotency-Key": "one"})
    await api.submit({**BODY, "prompt": ""})
    requests = (await api.call("GET", "/_sandbox/requests", key=None)).body
    assert [r["idempotency_key"] for r in requests] == ["one", None]
    assert json.loads(requests[0]["body"]) == BODY
    assert {r["method"] for r in requests} == {"POST"}
    assert {r["path"] for r in requests} == {"/v2/images/generate"}
    assert KEY not in json.dumps(requests)
    patched = await api.call(
        "PATCH", "/_sandbox/config", key=None, json_body={"result_shape": "string", "credits": 50}
    )
    assert (patched.body["result_shape"], patched.body["credits"]) == ("string", 50)
    assert KEY not in json.dumps(patched.body)  # unauthenticated: the keys are never shown
    assert "api_keys" not in patched.body
    await api.call("POST", "/_sandbox/advance", key=None, json_body={"seconds": 60})
    stats = (await api.call("GET", "/_sandbox/stats", key=None)).body
    assert (stats["created"], stats["completed"], stats["credits"]) == (1, 1, 10)
    job_id = next(iter(api.sandbox.jobs))
    assert isinstance((await api.job(job_id))["result"], str)
    api.sandbox.add_fault(Fault(status=503))
    assert (await api.call("POST", "/_sandbox/reset", key=None)).status == 200
    assert (api.sandbox.jobs, api.sandbox.faults, api.sandbox.requests) == ({}, [], [])
    assert (await api.call("GET", "/_sandbox/stats", key=None)).body["created"] == 0
    assert (await api.call("GET", f"/v2/jobs/{job_id}")).status == 404
