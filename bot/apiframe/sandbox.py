"""A local stand-in for Apiframe's v2 image API, faithful to its published contract.

Every test talks to it, and admins can run it (`flux-bot sandbox`) to try the bot for free.
It validates like the real schema (unknown keys rejected), answers with the real error shapes,
runs a clock-driven job state machine, renders real images with Pillow, signs webhooks like
Apiframe, replays idempotent submissions, and injects faults on demand. The `/_sandbox/*`
control routes have no authentication: never expose this server beyond your machine.

Control from tests: `app[SANDBOX_KEY]` (a `Sandbox`): `advance(seconds)`, `add_fault(Fault)`,
`add_outcome(Outcome)`, `webhook_faults = WebhookFaults(...)`, `config.<field> = ...`,
`settle_all()` (stats), `requests`, `reset()`. Over HTTP: POST /_sandbox/faults, /outcomes,
/webhooks, /advance {"seconds"}, /reset; PATCH /_sandbox/config; GET /_sandbox/stats, /requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import logging
import math
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp
from aiohttp import web
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.apiframe import webhooks

log = logging.getLogger(__name__)

MODELS = {"flux-2-max", "flux-2-pro", "flux-2-flex", "flux-2-dev"}
RESOLUTIONS = {"0.5MP": 0.5, "1MP": 1.0, "2MP": 2.0, "4MP": 4.0, "match_input_image": 1.0}
FLUX_KEYS = {
    "resolution",
    "aspect_ratio",
    "image_prompt",
    "image_prompt_strength",
    "input_images",
    "output_format",
    "output_quality",
    "prompt_upsampling",
    "seed",
    "width",
    "height",
    "go_fast",
    "guidance",
    "steps",
    "raw",
}
TOP_KEYS = {"prompt", "model", "fluxParams", "webhookUrl", "webhookEvents"}
EVENTS = {"progress", "completed", "failed"}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
MAX_SIDE = 2048
MODERATION_ERROR = "Provider returned an error: content policy violation"


class SandboxConfig(BaseModel):
    """How the sandbox behaves; tests may change it between requests."""

    model_config = ConfigDict(extra="forbid")

    api_keys: set[str] = Field(default_factory=lambda: {"afk_sandbox"})
    inactive_keys: set[str] = Field(default_factory=set)
    credits: int | None = None  # None: unlimited
    queued_seconds: float = 1.0
    processing_seconds: float = 4.0
    duration_jitter: float = 0.0  # each job's processing time varies by up to ± this fraction
    progress_steps: list[int] = Field(default_factory=lambda: [10, 35, 60, 85])
    result_shape: Literal["images", "string", "list", "url"] = "images"
    result_ttl_seconds: float | None = None  # None: results never expire
    public_url: str | None = None  # base of CDN URLs; None: the host the request came to
    cost_first_mp: int = 7  # credits for a job's first megapixel (and for 0.5 MP)
    cost_per_extra_mp: int = 3  # credits per further megapixel, rounded up
    idempotency_ttl_seconds: float = 24 * 3600
    # One picture per size and format instead of one per (prompt, seed): cheap, for load tests.
    reuse_images: bool = False
    webhook_retries: int = 3
    webhook_retry_delay: float = 0.2


class Fault(BaseModel):
    """Make the next `count` requests to `route` misbehave: answer `status` (429 carries
    Retry-After, 1 s unless given), `drop` the connection unanswered, add `delay` seconds, or
    `lose_answer`: do the work (a submission creates its job), then drop the connection, as
    when a network blip eats the response."""

    model_config = ConfigDict(extra="forbid")

    route: Literal["generate", "job", "cdn", "me", "any"] = "any"
    kind: Literal["status", "drop", "latency", "lose_answer"] = "status"
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    count: int = 1


class Outcome(BaseModel):
    """How the next `count` submitted jobs end (NEVER: they stay PROCESSING for good)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["COMPLETED", "FAILED", "CANCELLED", "NEVER"] = "FAILED"
    error: str | None = MODERATION_ERROR
    count: int = 1


class WebhookFaults(BaseModel):
    """Webhook misbehaviour, applied to every delivery while set."""

    model_config = ConfigDict(extra="forbid")

    drop: bool = False
    duplicate: bool = False
    bad_signature: bool = False
    bare_hex: bool = False
    out_of_order: bool = False  # a progress event after the terminal one


def credit_cost(resolution: str | None, first: int = 7, per_extra: int = 3) -> int:
    """`first` credits for the first megapixel, `per_extra` for each further one, rounded up
    (FLUX.2 [max] pricing): 0.5 MP 7, 1 MP 7, 2 MP 10, 4 MP 16 with the defaults."""
    mp = RESOLUTIONS.get(resolution or "2MP", 2.0)
    return first + math.ceil(max(0.0, mp - 1) * per_extra)


def dimensions(resolution: str | None, aspect: str | None) -> tuple[int, int]:
    """Width and height: about the asked megapixels (1 MP = 1,000,000 px, rounded down), sides
    multiples of 16, the longer side at most 2048 (so 4 MP at 16:9 is 2048x1152)."""
    pixels = RESOLUTIONS.get(resolution or "2MP", 2.0) * 1_000_000
    a, b = (int(x) for x in (aspect or "1:1").split(":"))
    width = math.sqrt(pixels * a / b)
    height = width * b / a
    scale = min(1.0, MAX_SIDE / max(width, height))
    return (
        max(16, int(width * scale) // 16 * 16),
        max(16, int(height * scale) // 16 * 16),
    )


def render(
    prompt: str, seed: int, resolution: str | None, aspect: str | None, fmt: str, quality: int
) -> bytes:
    """A deterministic picture for (prompt, seed): a gradient under fine noise, so file sizes
    behave like real photos (a 4 MP PNG is well over 10 MiB)."""
    width, height = dimensions(resolution, aspect)
    rng = random.Random(f"{seed}:{prompt}")  # noqa: S311 - test images
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    base = Image.new("RGB", (width, height), (rng.randrange(256), rng.randrange(256), 128))
    gradient = Image.linear_gradient("L").resize((width, height))
    base.paste((rng.randrange(256), 64, rng.randrange(256)), mask=gradient)
    image = Image.blend(base, noise, 0.5)
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, "PNG", compress_level=1)
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=quality)
    else:
        image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def _is_uri(value: Any) -> bool:
    return isinstance(value, str) and re.match(r"^https?://[^\s/]+", value) is not None


def validate_body(body: Any) -> dict[str, list[str]]:
    """Field errors, keyed by JSON path, the way Apiframe's schema reports them."""
    problems: dict[str, list[str]] = {}

    def bad(path: str, message: str) -> None:
        problems.setdefault(path, []).append(message)

    if not isinstance(body, dict):
        bad("", "Expected object")
        return problems
    for key in body.keys() - TOP_KEYS:
        bad(key, "Unrecognized key")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not 1 <= len(prompt) <= 2000:
        bad("prompt", "String must contain between 1 and 2000 character(s)")
    if body.get("model") not in MODELS:
        bad("model", "Invalid enum value")
    params = body.get("fluxParams", {})
    if not isinstance(params, dict):
        bad("fluxParams", "Expected object")
        params = {}
    for key in params.keys() - FLUX_KEYS:
        bad(f"fluxParams.{key}", "Unrecognized key")
    checks: dict[str, Callable[[Any], bool]] = {
        "resolution": lambda v: v in RESOLUTIONS,
        "aspect_ratio": lambda v: isinstance(v, str) and re.match(r"^\d+:\d+$", v) is not None,
        "image_prompt": _is_uri,
        "image_prompt_strength": lambda v: (
            isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1
        ),
        "input_images": lambda v: (
            isinstance(v, list) and len(v) <= 10 and all(_is_uri(u) for u in v)
        ),
        "output_format": lambda v: v in CONTENT_TYPES,
        "output_quality": lambda v: (
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100
        ),
        "prompt_upsampling": lambda v: isinstance(v, bool),
        "seed": lambda v: isinstance(v, int) and not isinstance(v, bool),
    }
    for key, ok in checks.items():
        if key in params and not ok(params[key]):
            bad(f"fluxParams.{key}", "Invalid value")
    if "webhookUrl" in body and not _is_uri(body["webhookUrl"]):
        bad("webhookUrl", "Invalid url")
    if "webhookEvents" in body:
        events = body["webhookEvents"]
        if not isinstance(events, list) or not events or not set(events) <= EVENTS:
            bad("webhookEvents", "Expected a non-empty array of progress, completed, failed")
    return problems


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

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.body.get("fluxParams") or {})

    @property
    def fmt(self) -> str:
        return str(self.params.get("output_format") or "jpg")


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
            "credits": 0,
            "polls": 0,
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

    def cost(self, body: dict[str, Any]) -> int:
        """What a job with this request body costs when it completes."""
        resolution = (body.get("fluxParams") or {}).get("resolution")
        return credit_cost(resolution, self.config.cost_first_mp, self.config.cost_per_extra_mp)

    def available_credits(self) -> int | None:
        """The balance minus what unfinished jobs will cost: what a new job may spend."""
        if self.config.credits is None:
            return None
        reserved = sum(
            self.cost(job.body)
            for job in self.jobs.values()
            if self.settle(job).status in ("QUEUED", "PROCESSING")
            and not (job.outcome and job.outcome.status == "NEVER")
        )
        return self.config.credits - reserved

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
        """Bring a job's status up to the sandbox clock; charge it once when it completes."""
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
            return job
        job.finished_clock = job.started + job.queued_seconds + job.processing_seconds
        job.completed_at = job.created_at + timedelta(
            seconds=job.queued_seconds + job.processing_seconds
        )
        if outcome == "COMPLETED":
            job.status, job.progress = "COMPLETED", 100
            self.stats["completed"] += 1
            self.stats["credits"] += self.cost(job.body)
            if self.config.credits is not None:
                self.config.credits -= self.cost(job.body)
        elif outcome == "CANCELLED":
            job.status, job.progress = "CANCELLED", None
            self.stats["cancelled"] += 1
        else:
            job.status, job.progress = "FAILED", None
            self.stats["failed"] += 1
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
            "creditCost": 0 if job.status in ("FAILED", "CANCELLED") else self.cost(job.body),
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
                )
                if not self.config.reuse_images:
                    job.image = await asyncio.to_thread(draw)
                else:
                    if shape not in self._shared_images:
                        self._shared_images[shape] = asyncio.ensure_future(asyncio.to_thread(draw))
                    job.image = await asyncio.shield(self._shared_images[shape])
            return job.image

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
                "creditCost": self.cost(job.body),
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

    async def stop(self, app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


SANDBOX_KEY = web.AppKey("sandbox", Sandbox)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        data, status=status, headers={"x-request-id": str(uuid.uuid4()), **(headers or {})}
    )


def _base(request: web.Request, sandbox: Sandbox) -> str:
    return (sandbox.config.public_url or f"{request.scheme}://{request.host}").rstrip("/")


async def _apply_fault(request: web.Request, sandbox: Sandbox, route: str) -> web.Response | None:
    fault = sandbox._take_fault(route)
    if fault is None:
        return None
    if fault.kind == "latency":
        await asyncio.sleep(fault.delay)
        return None
    if fault.kind in ("drop", "lose_answer"):  # (`generate` takes lose_answer before this)
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError  # the client sees the connection die
    retry_after = fault.retry_after or ("1" if fault.status == 429 else None)
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    messages = {429: "Rate limit exceeded", 503: "Service temporarily unavailable"}
    return _json({"error": messages.get(fault.status, "Internal error")}, fault.status, headers)


def _answer(request: web.Request, response: web.Response, lose: bool) -> web.Response:
    """`response`, unless a `lose_answer` fault says the client never gets it."""
    if lose and request.transport is not None:
        request.transport.close()
        raise asyncio.CancelledError
    return response


def _auth(request: web.Request, sandbox: Sandbox) -> tuple[str | None, web.Response | None]:
    key = request.headers.get("X-API-Key")
    if not key:
        return None, _json({"error": "API key is required"}, 401)
    if key in sandbox.config.inactive_keys:
        return None, _json({"error": "API key is inactive"}, 403)
    if key not in sandbox.config.api_keys:
        return None, _json({"error": "Invalid API key"}, 401)
    return key, None


async def generate(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    upcoming = next((f for f in sandbox.faults if f.route in ("generate", "any")), None)
    lose = upcoming is not None and upcoming.kind == "lose_answer"
    if lose:
        sandbox._take_fault("generate")
    elif (faulty := await _apply_fault(request, sandbox, "generate")) is not None:
        return faulty
    key, refusal = _auth(request, sandbox)
    if refusal is not None or key is None:
        return refusal or _json({"error": "API key is required"}, 401)
    raw = await request.read()
    idem = request.headers.get("Idempotency-Key")
    sandbox.requests.append(
        {
            "method": "POST",
            "path": request.path,
            "idempotency_key": idem,
            "body": raw.decode(errors="replace"),
        }
    )
    try:
        body = json.loads(raw)
    except ValueError:
        return _json({"error": "Invalid JSON body"}, 400)
    problems = validate_body(body)
    if problems:
        return _json({"error": "Invalid request body", "details": problems}, 400)
    if idem is not None:
        if len(idem) > 255:
            return _json(
                {"error": "Invalid request body", "details": {"Idempotency-Key": ["Too long"]}}, 400
            )
        existing = sandbox.by_idempotency.get((key, idem))
        ttl = sandbox.config.idempotency_ttl_seconds
        if existing is not None and sandbox.now() - sandbox.jobs[existing].started > ttl:
            existing = None  # the key is forgotten after 24 h: a new, paid job
        if existing is not None:
            job = sandbox.settle(sandbox.jobs[existing])
            if job.body != body:
                return _json({"error": "Idempotency-Key reuse with different request body"}, 409)
            return _answer(request, _json({"jobId": job.id, "status": job.status}, 202), lose)
    cost = sandbox.cost(body)
    available = sandbox.available_credits()
    if available is not None and available < cost:
        return _json(
            {
                "error": "Insufficient credits",
                "creditsRequired": cost,
                "creditsAvailable": max(0, available),
            },
            402,
        )
    outcome = None
    if sandbox.outcomes:
        outcome = sandbox.outcomes[0]
        outcome.count -= 1
        if outcome.count <= 0:
            sandbox.outcomes.pop(0)
    params = body.get("fluxParams") or {}
    seed = params.get("seed")
    jitter = sandbox.config.duration_jitter
    spread = 1 + (random.uniform(-jitter, jitter) if jitter else 0.0)  # noqa: S311
    job = SandboxJob(
        id=str(uuid.uuid4()),
        key=key,
        body=body,
        idempotency_key=idem,
        started=sandbox.now(),
        created_at=datetime.now(UTC),
        queued_seconds=sandbox.config.queued_seconds,
        processing_seconds=sandbox.config.processing_seconds * spread,
        outcome=outcome,
        seed=seed if isinstance(seed, int) else random.randrange(2**32),  # noqa: S311
    )
    sandbox.jobs[job.id] = job
    if idem is not None:
        sandbox.by_idempotency[(key, idem)] = job.id
    sandbox.stats["created"] += 1
    if outcome is None or outcome.status == "COMPLETED":
        # Render while the job "runs", so the CDN answers at once like a real one.
        sandbox._spawn(sandbox.prerender(job))
    if body.get("webhookUrl"):
        events = set(body.get("webhookEvents") or ["completed", "failed"])
        sandbox._spawn(sandbox._webhooks(job, body["webhookUrl"], events, _base(request, sandbox)))
    return _answer(request, _json({"jobId": job.id, "status": "QUEUED"}, 202), lose)


async def get_job(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    if (faulty := await _apply_fault(request, sandbox, "job")) is not None:
        return faulty
    key, refusal = _auth(request, sandbox)
    if refusal is not None:
        return refusal
    job_id = request.match_info["job_id"]
    sandbox.stats["polls"] += 1
    try:
        uuid.UUID(job_id)
    except ValueError:
        return _json({"error": "Invalid job id"}, 400)
    job = sandbox.jobs.get(job_id)
    if job is None or job.key != key:
        return _json({"error": "Job not found"}, 404)
    return _json(sandbox.job_json(job, _base(request, sandbox)))


async def me(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    if (faulty := await _apply_fault(request, sandbox, "me")) is not None:
        return faulty
    key, refusal = _auth(request, sandbox)
    if refusal is not None or key is None:
        return refusal or _json({"error": "API key is required"}, 401)
    return _json(
        {
            "user": {"id": "sandbox-user", "email": "sandbox@localhost", "role": "owner"},
            "team": {
                "id": "sandbox-team",
                "name": "Sandbox",
                "credits": sandbox.config.credits,
                "plan": "sandbox",
                "customerId": None,
            },
            "apiKey": {"id": "sandbox-key", "name": "sandbox", "prefix": key[:8]},
        }
    )


async def cdn(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    if (faulty := await _apply_fault(request, sandbox, "cdn")) is not None:
        return faulty
    match = re.fullmatch(
        r"(?P<id>[0-9a-f-]{36})-1\.(?P<ext>jpg|png|webp)", request.match_info["name"]
    )
    job = sandbox.jobs.get(match["id"]) if match else None
    if job is None or sandbox.settle(job).status != "COMPLETED" or sandbox.expired(job):
        return _json({"error": "Not found"}, 404)
    data = await sandbox.image_bytes(job)
    return web.Response(
        body=data, content_type=CONTENT_TYPES[job.fmt], headers={"x-request-id": str(uuid.uuid4())}
    )


# --- control routes -----------------------------------------------------------------------


@web.middleware
async def _control_errors(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """A malformed control request is a 400 naming the problem, not a 500."""
    try:
        response: web.StreamResponse = await handler(request)
    except (ValidationError, ValueError) as error:
        if not request.path.startswith("/_sandbox/"):
            raise
        return _json({"error": "Invalid control request", "details": str(error)}, 400)
    return response


async def control_faults(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    sandbox.add_fault(Fault.model_validate(await request.json()))
    return _json({"faults": len(sandbox.faults)})


async def control_outcomes(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    sandbox.add_outcome(Outcome.model_validate(await request.json()))
    return _json({"outcomes": len(sandbox.outcomes)})


async def control_webhooks(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    sandbox.webhook_faults = WebhookFaults.model_validate(await request.json())
    return _json(sandbox.webhook_faults.model_dump())


async def control_config(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    changes = await request.json()
    sandbox.config = sandbox.config.model_copy(
        update=SandboxConfig.model_validate({**sandbox.config.model_dump(), **changes}).model_dump()
    )
    return _json(sandbox.config.model_dump(mode="json"))


async def control_advance(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    sandbox.advance(float((await request.json()).get("seconds", 0)))
    return _json({"ok": True})


async def control_reset(request: web.Request) -> web.Response:
    request.app[SANDBOX_KEY].reset()
    return _json({"ok": True})


async def control_stats(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    return _json(sandbox.settle_all())


async def control_requests(request: web.Request) -> web.Response:
    return _json(request.app[SANDBOX_KEY].requests)


def create_app(
    config: SandboxConfig | None = None, *, clock: Callable[[], float] = time.monotonic
) -> web.Application:
    """The sandbox as an aiohttp application; its state is `app[SANDBOX_KEY]`."""
    sandbox = Sandbox(config or SandboxConfig(), clock)
    app = web.Application(middlewares=[_control_errors])
    app[SANDBOX_KEY] = sandbox
    app.on_startup.append(sandbox.start)
    app.on_cleanup.append(sandbox.stop)
    app.router.add_post("/v2/images/generate", generate)
    app.router.add_get("/v2/jobs/{job_id}", get_job)
    app.router.add_get("/v2/me", me)
    app.router.add_get("/cdn/images/{name}", cdn)
    app.router.add_post("/_sandbox/faults", control_faults)
    app.router.add_post("/_sandbox/outcomes", control_outcomes)
    app.router.add_post("/_sandbox/webhooks", control_webhooks)
    app.router.add_patch("/_sandbox/config", control_config)
    app.router.add_post("/_sandbox/advance", control_advance)
    app.router.add_post("/_sandbox/reset", control_reset)
    app.router.add_get("/_sandbox/stats", control_stats)
    app.router.add_get("/_sandbox/requests", control_requests)
    return app


async def serve(
    host: str,
    port: int,
    config: SandboxConfig | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[web.AppRunner, str]:
    """Start the sandbox (port 0: any free port); returns the runner (call `cleanup()`) and
    its base URL. The state is `runner.app[SANDBOX_KEY]`."""
    app = create_app(config, clock=clock)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        # setup() already ran the startup hooks: close the webhook session they opened.
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    return runner, f"http://{host}:{bound_port}"
