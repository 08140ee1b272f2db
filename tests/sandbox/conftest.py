"""Fixtures: the sandbox on a real port with a frozen clock, a plain HTTP client and a webhook
sink (the picture server for input images, `pictures`, is in tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from bot.apiframe.sandbox import SANDBOX_KEY, Sandbox, SandboxConfig, create_app

KEY = "afk_sandbox_tests"
OTHER_KEY = "afk_someone_else"
INACTIVE_KEY = "afk_switched_off"
BODY: dict[str, Any] = {"prompt": "a lighthouse at dusk", "model": "flux-2-max"}


@dataclass
class Answer:
    status: int
    body: Any
    headers: CIMultiDict[str]


@dataclass
class Api:
    """The running sandbox, its state object and a plain aiohttp session to talk to it."""

    sandbox: Sandbox
    url: str
    http: aiohttp.ClientSession

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = KEY,
        json_body: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = {**({"X-API-Key": key} if key else {}), **(headers or {})}
        async with self.http.request(
            method, f"{self.url}{path}", json=json_body, data=data, headers=sent
        ) as response:
            raw = await response.read()
            is_json = response.content_type == "application/json"
            return Answer(
                response.status, json.loads(raw) if is_json else raw, CIMultiDict(response.headers)
            )

    async def post(self, path: str, body: Any, **headers: str) -> Answer:
        """POST a JSON body to a route with the test key (headers as keyword arguments)."""
        return await self.call("POST", path, json_body=body, headers=headers)

    async def upscale(self, body: Any, **headers: str) -> Answer:
        return await self.post("/v2/images/upscale", body, **headers)

    async def edit(self, body: Any, **headers: str) -> Answer:
        return await self.post("/v2/images/edit", body, **headers)

    async def submit(self, body: dict[str, Any] | None = None, **headers: str) -> Answer:
        return await self.call(
            "POST", "/v2/images/generate", json_body=BODY if body is None else body, headers=headers
        )

    async def submit_ok(self, **flux_params: Any) -> str:
        """Submit a valid job with these fluxParams and return its id."""
        body = {**BODY, "fluxParams": flux_params} if flux_params else BODY
        answer = await self.submit(body)
        assert answer.status == 202, answer.body
        return str(answer.body["jobId"])

    async def job(self, job_id: str) -> dict[str, Any]:
        answer = await self.call("GET", f"/v2/jobs/{job_id}")
        assert answer.status == 200, answer.body
        return dict(answer.body)

    async def finished(self, **flux_params: Any) -> dict[str, Any]:
        """Submit a job, move the clock past its end and return the job object."""
        job_id = await self.submit_ok(**flux_params)
        self.sandbox.advance(60)
        return await self.job(job_id)

    async def download(self, url: str) -> tuple[int, bytes, CIMultiDict[str]]:
        async with self.http.get(url) as response:
            return response.status, await response.read(), CIMultiDict(response.headers)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    """A sandbox whose clock stands still until a test calls `sandbox.advance(seconds)`."""
    config = SandboxConfig(
        api_keys={KEY, OTHER_KEY},
        inactive_keys={INACTIVE_KEY},
        webhook_retry_delay=0.01,
    )
    app = create_app(config, clock=lambda: 1000.0)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield Api(app[SANDBOX_KEY], str(server.make_url("")).rstrip("/"), http)
    await server.close()


@dataclass
class Delivery:
    event: str
    raw: bytes
    headers: CIMultiDict[str]

    @property
    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.raw))


@dataclass
class Sink:
    """A webhook receiver that records what arrives and can answer 500 a few times first."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    attempts: int = 0
    fail_next: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        raw = await request.read()
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=500)
        self.deliveries.append(
            Delivery(request.headers["X-Webhook-Event"], raw, CIMultiDict(request.headers))
        )
        return web.Response(status=204)

    @property
    def events(self) -> list[str]:
        return [d.event for d in self.deliveries]


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    receiver = Sink()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    receiver.url = str(server.make_url("/hook"))
    yield receiver
    await server.close()


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait (briefly, in real time) until background work makes `predicate` true."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)
