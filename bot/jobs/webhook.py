"""Apiframe's webhooks: verified, deduplicated, answered fast, then folded into the job."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.apiframe import webhooks
from bot.apiframe.models import Job, JobStatus

log = logging.getLogger(__name__)

WEBHOOK_ROUTE = "/apiframe/webhook/{secret}"  # i18n: not shown
REFUSAL_LOG_SECONDS = 60.0
_EVENTS = {JobStatus.COMPLETED: "completed", JobStatus.FAILED: "failed"}

Handler = Callable[[Job, str], Awaitable[None]]


def webhook_path_secret(api_key: str) -> str:
    """An unguessable, stable path segment derived from the API key (not the key itself)."""
    return hmac.new(api_key.encode(), b"flux-bot webhook path", hashlib.sha256).hexdigest()[:32]


def webhook_url(public_base: str, api_key: str) -> str:
    """The URL Apiframe is asked to call for every job."""
    secret = webhook_path_secret(api_key)
    return f"{public_base.rstrip('/')}/apiframe/webhook/{secret}"  # i18n: not shown


def read_event(body: bytes) -> tuple[Job, str]:
    """The job and the event name of a (verified) webhook body; ValueError when it is not a
    job. The event comes from the signed body only: an unsigned header must not make a replay
    look new."""
    try:
        payload = json.loads(body)
    except RecursionError:  # nested past the parser's depth: not a job either
        raise ValueError("the body is nested too deeply") from None
    if not isinstance(payload, dict):
        raise ValueError("the body is not a JSON object")
    job = Job.model_validate(payload)  # pydantic's ValidationError is a ValueError
    return job, str(payload.get("event") or _EVENTS.get(job.status, "progress"))


class WebhookReceiver:
    """An aiohttp handler; `handle` is called with each new, verified event in the background."""

    def __init__(self, api_key: str, handle: Handler, *, remember: int = 4096) -> None:
        self._api_key = api_key
        self._secret = webhook_path_secret(api_key)
        self._handle = handle
        self._seen: OrderedDict[tuple[str, str, int | None], None] = OrderedDict()
        self._remember = remember
        self._tasks: set[asyncio.Task[None]] = set()
        self.received = 0
        self.rejected = 0
        self.duplicates = 0
        self._unlogged_refusals = 0
        self._refusal_logged_at = -REFUSAL_LOG_SECONDS

    def install(self, app: web.Application) -> None:
        app.router.add_post(WEBHOOK_ROUTE, self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.match_info["secret"], self._secret):
            self.rejected += 1
            raise web.HTTPNotFound()
        body = await request.read()
        signature = request.headers.get(webhooks.SIGNATURE_HEADER)
        if not webhooks.verify(body, signature, self._api_key):
            self.rejected += 1
            self._log_refusal()
            return web.json_response({"error": "invalid signature"}, status=401)  # i18n: not shown
        try:
            job, event = read_event(body)
        except ValueError:
            self.rejected += 1
            return web.json_response({"error": "unreadable body"}, status=400)  # i18n: not shown
        self.received += 1
        key = (job.id, job.status.value, None if job.status.is_terminal else job.progress)
        if key in self._seen:
            self.duplicates += 1
            return web.Response(status=204)
        self._seen[key] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        # Answer at once; the work happens after the response.
        task = asyncio.create_task(self._run(job, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=204)

    def _log_refusal(self) -> None:
        """One line per REFUSAL_LOG_SECONDS however many forged requests come in."""
        self._unlogged_refusals += 1
        now = time.monotonic()
        if now - self._refusal_logged_at < REFUSAL_LOG_SECONDS:
            return
        log.warning(
            "%d webhook request(s) with a bad or missing signature refused", self._unlogged_refusals
        )
        self._unlogged_refusals = 0
        self._refusal_logged_at = now

    async def _run(self, job: Job, event: str) -> None:
        try:
            await self._handle(job, event)
        except Exception:
            log.exception("webhook for Apiframe job %s (%s) could not be applied", job.id, event)

    async def drain(self) -> None:
        """Wait for webhook work in progress (at shutdown)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)
