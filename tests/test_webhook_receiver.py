"""The webhook receiver on its own: replays are recognised from the signed body alone, and
forged requests cost one log line a minute, not one each."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.apiframe import webhooks
from bot.apiframe.models import Job
from bot.jobs.webhook import WebhookReceiver, webhook_path_secret

KEY = "afk_webhook_test_key"
PATH = f"/apiframe/webhook/{webhook_path_secret(KEY)}"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[TestClient[Any, Any], list[tuple[str, str]]]]:
    seen: list[tuple[str, str]] = []

    async def handle(job: Job, event: str) -> None:
        seen.append((job.id, event))

    hooks = WebhookReceiver(KEY, handle)
    app = web.Application()
    hooks.install(app)
    async with TestClient(TestServer(app)) as client:
        yield client, seen
        await hooks.drain()


def _signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {webhooks.SIGNATURE_HEADER: webhooks.sign(raw, KEY)}


async def test_a_replay_with_another_event_header_is_still_a_duplicate(
    receiver: tuple[TestClient[Any, Any], list[tuple[str, str]]],
) -> None:
    client, seen = receiver
    raw, headers = _signed({"jobId": "j1", "status": "COMPLETED", "result": {"images": ["u"]}})
    for event in ("completed", "progress", "failed"):  # the header is not signed
        answer = await client.post(
            PATH, data=raw, headers={**headers, webhooks.EVENT_HEADER: event}
        )
        assert answer.status == 204
    await client.post(PATH, data=raw, headers=headers)
    await asyncio.sleep(0.05)  # the receiver applies events after answering
    assert seen == [("j1", "completed")]  # applied once, as what the signed body says


async def test_forged_requests_are_logged_once_per_interval(
    receiver: tuple[TestClient[Any, Any], list[tuple[str, str]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, seen = receiver
    caplog.set_level(logging.WARNING)
    raw = json.dumps({"jobId": "j1", "status": "COMPLETED"}).encode()
    for _ in range(50):
        answer = await client.post(PATH, data=raw, headers={webhooks.SIGNATURE_HEADER: "forged"})
        assert answer.status == 401
    lines = [r for r in caplog.records if "signature" in r.getMessage()]
    assert len(lines) == 1
    assert seen == []


async def test_a_signed_body_nested_past_the_parser_is_a_400(
    receiver: tuple[TestClient[Any, Any], list[tuple[str, str]]],
) -> None:
    """json.loads raises RecursionError (not ValueError) for deep nesting: still a 400."""
    client, seen = receiver
    raw = b"[" * 100_000 + b"]" * 100_000
    headers = {webhooks.SIGNATURE_HEADER: webhooks.sign(raw, KEY)}
    answer = await client.post(PATH, data=raw, headers=headers)
    assert answer.status == 400
    assert seen == []
