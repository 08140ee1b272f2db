"""Fixtures: the sandbox, and a scripted server for exact error shapes, both on real ports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.apiframe.client import USER_AGENT, ApiframeClient
from bot.apiframe.retry import RetryPolicy
from bot.apiframe.sandbox import SANDBOX_KEY, Sandbox, SandboxConfig, create_app
from bot.downloads import Downloader, DownloadPolicy

KEY = "afk_test_key_123"


async def _no_sleep(_: float) -> None:
    return None


FAST_RETRY = RetryPolicy(max_attempts=4, sleep=_no_sleep, random=lambda: 0.5)


def lan_client(base_url: str, **kwargs: Any) -> ApiframeClient:
    """A client whose downloads may reach any loopback port, as DOWNLOAD_ALLOW_NETWORKS
    allows: for results served by another local server than the API's."""
    policy = DownloadPolicy.build([base_url], ["127.0.0.0/8", "::1"])
    kwargs.setdefault("retry", FAST_RETRY)
    downloader = Downloader(policy, headers={"User-Agent": USER_AGENT})
    return ApiframeClient(KEY, base_url, downloader=downloader, **kwargs)


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    drop: bool = False


@dataclass
class Scripted:
    """A server that answers each request with the next scripted reply and records it."""

    replies: list[Reply] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        reply = self.replies.pop(0) if self.replies else Reply(500, {"error": "unscripted"})
        if reply.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if reply.raw is not None:
            return web.Response(status=reply.status, body=reply.raw, headers=reply.headers)
        return web.Response(
            status=reply.status,
            text=json.dumps(reply.body),
            content_type="application/json",
            headers=reply.headers,
        )


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    script = Scripted()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    script.url = str(server.make_url("")).rstrip("/")
    yield script
    await server.close()


@pytest.fixture
async def scripted_client(scripted: Scripted) -> AsyncIterator[ApiframeClient]:
    async with ApiframeClient(KEY, scripted.url, retry=FAST_RETRY, timeout=5) as client:
        yield client


@dataclass
class SandboxServer:
    sandbox: Sandbox
    url: str


@pytest.fixture
async def sandbox_server() -> AsyncIterator[SandboxServer]:
    config = SandboxConfig(api_keys={KEY}, queued_seconds=0.05, processing_seconds=0.2)
    app = create_app(config)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield SandboxServer(app[SANDBOX_KEY], str(server.make_url("")).rstrip("/"))
    await server.close()


@pytest.fixture
async def client(sandbox_server: SandboxServer) -> AsyncIterator[ApiframeClient]:
    async with ApiframeClient(KEY, sandbox_server.url, retry=FAST_RETRY, timeout=5) as c:
        yield c
