"""The sandbox's state: its jobs, their clock-driven lifecycle, images and webhook delivery."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from bot.apiframe import webhooks
from bot.apiframe.sandbox.config import Fault, Outcome, SandboxConfig, WebhookFaults
from bot.apiframe.sandbox.images import (
    credit_cost,
    inpaint,
    outpaint,
    render,
    upscale,
    upscale_factor,
)
from bot.apiframe.sandbox.validation import PARAMS_KEYS, params_of, request_validators


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


@dataclass
class SandboxJob:
    id: str
    key: str = field(repr=False)  # the API key: never in a repr
    body: dict[str, Any]
    idempotency_key: str | None
    started: float  # sandbox clock
    created_at: datetime
    queued_seconds: float
    processing_seconds: float
    outcome: Outcome | None
    seed: int
    status: str = "QUEUED"
    progress: int | None = 0
    completed_at: datetime | None = None
    finished_clock: float | None = None
    webhook_status: str | None = None
    image: bytes | None = None
    render_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    cost: int = 0  # priced at submission
    charged: bool = False  # its cost was taken from the balance (and is refunded if it fails)
    source: bytes | None = field(default=None, repr=False)  # an upscale's or edit's input
    mask: bytes | None = field(default=None, repr=False)
    references: tuple[bytes, ...] = field(default=(), repr=False)  # a generation's, fetched

    @property
    def model(self) -> str:
        return str(self.body.get("model"))

    @property
    def params(self) -> dict[str, Any]:
        return params_of(self.body)

    @property
    def fmt(self) -> str:
        # Clarity answers PNG unless asked otherwise, like the model it serves; the rest JPEG.
        default = "png" if self.model == "clarity-upscale" else "jpg"
        return str(self.params.get("output_format") or default)


class Sandbox:
    """State and control of one sandbox server."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self._clock = clock
        self._offset = 0.0
        self._tick = asyncio.Event()
        self.jobs: dict[str, SandboxJob] = {}
        self.by_idempotency: dict[tuple[str, str], str] = {}
        self.faults: list[Fault] = []
        self.outcomes: list[Outcome] = []
        self.webhook_faults = WebhookFaults()
        self.requests: list[dict[str, Any]] = []
        self.stats = {
            "created": 0,
            "completed": 0,
            "failed": 0,
            "cancelled": 0,
            "credits": 0,  # taken at submission, less refunds
            "refunded": 0,
            "polls": 0,
            "lists": 0,  # GET /v2/jobs
        }
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        # With `reuse_images`, one render per shape, shared by every job that asks meanwhile.
        self._shared_images: dict[tuple[Any, ...], asyncio.Future[bytes]] = {}

    # --- control ----------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (tests skip waiting this way)."""
        self._offset += seconds
        self._tick.set()
        self._tick = asyncio.Event()

    def add_fault(self, fault: Fault) -> None:
        """Queue a response fault (429/5xx, dropped connection, latency) for a route."""
        self.faults.append(fault)

    def add_outcome(self, outcome: Outcome) -> None:
        """Script how the next submitted jobs end (FAILED, CANCELLED, NEVER)."""
        self.outcomes.append(outcome)

    def cost(self, body: dict[str, Any], reference_pixels: int = 0) -> int:
        """What a generation with this request body costs, with references of this many pixels."""
        resolution = (body.get("fluxParams") or {}).get("resolution")
        config = self.config
        return credit_cost(
            resolution, config.cost_first_mp, config.cost_per_extra_mp, reference_pixels
        )

    def balance(self) -> int:
        """The team's credits as `GET /v2/me` reports them (unlimited: UNLIMITED_CREDITS)."""
        available = self.available_credits()
        return UNLIMITED_CREDITS if available is None else max(0, available)

    def available_credits(self) -> int | None:
        """The balance after every refund that is due: what a new job may spend (None:
        unlimited). Jobs in flight have paid already."""
        self.settle_all()
        return self.config.credits

    def charge(self, job: SandboxJob) -> None:
        """Take a new job's cost, as Apiframe does at submission. A job scripted never to end
        (NEVER) is not charged: it stands for one the provider lost, which Apiframe refunds."""
        if job.outcome is not None and job.outcome.status == "NEVER":
            return
        job.charged = True
        self.stats["credits"] += job.cost
        if self.config.credits is not None:
            self.config.credits -= job.cost

    def _refund(self, job: SandboxJob) -> None:
        if not job.charged:
            return
        job.charged = False
        self.stats["credits"] -= job.cost
        self.stats["refunded"] += job.cost
        if self.config.credits is not None:
            self.config.credits += job.cost

    def settle_all(self) -> dict[str, int]:
        """Bring every job up to the clock and return the counters (a copy)."""
        for job in self.jobs.values():
            self.settle(job)
        return dict(self.stats)

    def reset(self) -> None:
        self.jobs.clear()
        self.by_idempotency.clear()
        self.faults.clear()
        self.outcomes.clear()
        self.requests.clear()
        self.webhook_faults = WebhookFaults()
        self.stats = dict.fromkeys(self.stats, 0)

    def _take_fault(self, route: str) -> Fault | None:
        for fault in self.faults:
            if fault.route in (route, "any"):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    # --- the state machine ------------------------------------------------------------

    def settle(self, job: SandboxJob) -> SandboxJob:
        """Bring a job's status up to the sandbox clock; refund it once if it fails."""
        if job.status in ("COMPLETED", "FAILED", "CANCELLED"):
            return job
        elapsed = self.now() - job.started
        if elapsed < job.queued_seconds:
            job.status, job.progress = "QUEUED", 0
            return job
        running = elapsed - job.queued_seconds
        outcome = job.outcome.status if job.outcome else "COMPLETED"
        if running < job.processing_seconds or outcome == "NEVER":
            steps = self.config.progress_steps
            done = min(1.0, running / job.processing_seconds) if job.processing_seconds else 1
            index = min(len(steps), int(done * (len(steps) + 1) + 1e-9))  # float-safe
            job.status = "PROCESSING"
            job.progress = steps[index - 1] if index and steps else 0
            if self.config.progress_mode == "linear":
                job.progress = min(99, int(done * 100 + 1e-9))  # float-safe
            return job
        job.finished_clock = job.started + job.queued_seconds + job.processing_seconds
        job.completed_at = job.created_at + timedelta(
            seconds=job.queued_seconds + job.processing_seconds
        )
        if outcome == "COMPLETED":
            job.status, job.progress = "COMPLETED", 100
            self.stats["completed"] += 1
        elif outcome == "CANCELLED":
            job.status, job.progress = "CANCELLED", None
            self.stats["cancelled"] += 1
            self._refund(job)
        else:
            job.status, job.progress = "FAILED", None
            self.stats["failed"] += 1
            self._refund(job)
        return job

    def expired(self, job: SandboxJob) -> bool:
        ttl = self.config.result_ttl_seconds
        return (
            job.status == "COMPLETED"
            and ttl is not None
            and job.finished_clock is not None
            and self.now() - job.finished_clock > ttl
        )

    def result(self, job: SandboxJob, base: str) -> Any:
        url = f"{base}/cdn/images/{job.id}-1.{job.fmt}"
        shape = self.config.result_shape
        if shape == "string":
            return url
        if shape == "list":
            return [url]
        if shape == "url":
            return {"imageUrl": url}
        return {"images": [url]}

    def job_json(self, job: SandboxJob, base: str) -> dict[str, Any]:
        self.settle(job)
        done = job.status == "COMPLETED"
        return {
            "id": job.id,
            "status": job.status,
            "model": job.body.get("model"),
            "progress": job.progress,
            "result": self.result(job, base) if done else None,
            "error": (job.outcome.error if job.outcome else None)
            if job.status in ("FAILED", "CANCELLED")
            else None,
            # Quoted while the job runs, refunded (0) when it does not complete.
            "creditCost": 0 if job.status in ("FAILED", "CANCELLED") else job.cost,
            "webhookStatus": job.webhook_status,
            "createdAt": _iso(job.created_at),
            "completedAt": _iso(job.completed_at),
            "expired": self.expired(job),
            "input": job.body,
        }

    async def prerender(self, job: SandboxJob) -> None:
        await self._sleep_until(job.started + job.queued_seconds + job.processing_seconds / 2)
        await self.image_bytes(job)

    async def image_bytes(self, job: SandboxJob) -> bytes:
        if job.model in PARAMS_KEYS:  # an upscale or an edit: drawn from its input
            async with job.render_lock:
                if job.image is None:
                    job.image = await asyncio.to_thread(self._edited, job)
                return job.image
        async with job.render_lock:
            params = job.params
            shape = (
                params.get("resolution"),
                params.get("aspect_ratio"),
                job.fmt,
                params.get("output_quality"),
            )
            if job.image is None:
                draw = functools.partial(
                    render,
                    str(job.body.get("prompt")),
                    job.seed,
                    params.get("resolution"),
                    params.get("aspect_ratio"),
                    job.fmt,
                    int(params.get("output_quality", 90)),
                    job.references,
                )
                if not self.config.reuse_images or job.references:
                    job.image = await asyncio.to_thread(draw)
                else:
                    if shape not in self._shared_images:
                        self._shared_images[shape] = asyncio.ensure_future(asyncio.to_thread(draw))
                    job.image = await asyncio.shield(self._shared_images[shape])
            return job.image

    def _edited(self, job: SandboxJob) -> bytes:
        """The result of an upscale or an edit (blocking: run it in a thread)."""
        params, source = job.params, job.source or b""
        if job.model != "flux-fill-pro":
            return upscale(source, upscale_factor(job.model, params), job.fmt)
        if params.get("mode") == "inpaint":
            return inpaint(source, job.mask or b"", job.fmt)
        return outpaint(source, str(params.get("outpaint")), job.fmt)

    # --- webhooks ---------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sleep_until(self, moment: float) -> None:
        while self.now() < moment:
            tick = self._tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), timeout=moment - self.now())

    async def _webhooks(self, job: SandboxJob, url: str, events: set[str], base: str) -> None:
        """Deliver the subscribed events of one job as its clock reaches them."""
        job.webhook_status = "pending"
        delivered, due = True, False
        if "progress" in events:
            for step in range(1, len(self.config.progress_steps) + 1):
                fraction = step / (len(self.config.progress_steps) + 1)
                await self._sleep_until(
                    job.started + job.queued_seconds + fraction * job.processing_seconds
                )
                self.settle(job)
                if job.status != "PROCESSING":
                    break
                due = True
                delivered &= await self._send(job, url, "progress", base)
        await self._sleep_until(job.started + job.queued_seconds + job.processing_seconds)
        self.settle(job)
        if job.status == "PROCESSING":
            return  # never finishes
        event = "completed" if job.status == "COMPLETED" else "failed"
        if event in events:
            due = True
            delivered &= await self._send(job, url, event, base)
            if self.webhook_faults.duplicate:
                await self._send(job, url, event, base)
            if self.webhook_faults.out_of_order:
                await self._send(job, url, "progress", base, progress=50)
        # Nothing subscribed happened (e.g. only "completed" and the job failed): nothing to report.
        job.webhook_status = ("delivered" if delivered else "failed") if due else None

    def _event_body(self, job: SandboxJob, event: str, base: str, progress: int | None) -> bytes:
        body: dict[str, Any] = {"event": event, "jobId": job.id, "model": job.body.get("model")}
        if event == "progress":
            body |= {"status": "PROCESSING", "progress": progress or job.progress}
        elif event == "completed":
            body |= {
                "status": "COMPLETED",
                "progress": 100,
                "result": self.result(job, base),
                "creditCost": job.cost,
                "completedAt": _iso(job.completed_at),
            }
        else:
            body |= {"status": job.status, "error": job.outcome.error if job.outcome else None}
        return json.dumps(body).encode()

    async def _send(
        self, job: SandboxJob, url: str, event: str, base: str, progress: int | None = None
    ) -> bool:
        if self.webhook_faults.drop:
            return False
        raw = self._event_body(job, event, base, progress)
        signature = webhooks.sign(raw, job.key)
        if self.webhook_faults.bad_signature:
            signature = webhooks.sign(raw, job.key + "-wrong")
        if self.webhook_faults.bare_hex:
            signature = signature.removeprefix("sha256=")
        headers = {
            "Content-Type": "application/json",
            webhooks.EVENT_HEADER: event,
            webhooks.SIGNATURE_HEADER: signature,
        }
        if self._session is None:
            return False
        for attempt in range(self.config.webhook_retries):
            try:
                async with self._session.post(url, data=raw, headers=headers) as response:
                    if 200 <= response.status < 300:
                        return True
            except (aiohttp.ClientError, TimeoutError):
                pass
            if attempt + 1 < self.config.webhook_retries:
                await asyncio.sleep(self.config.webhook_retry_delay * (attempt + 1))
        return False

    # --- lifecycle --------------------------------------------------------------------

    async def start(self, app: web.Application) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        await asyncio.to_thread(request_validators)  # read the bundled schemas off the loop

    async def stop(self, app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


UNLIMITED_CREDITS = 1_000_000  # what /v2/me shows for a sandbox without a credit limit
SANDBOX_KEY = web.AppKey("sandbox", Sandbox)
