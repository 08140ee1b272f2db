"""The Apiframe API routes: submit, poll, account and CDN, with fault injection. Every
submission route shares `submit` (auth, validation, idempotency, credits, the job)."""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.apiframe.sandbox.inputs import (
    FORMATS,
    REFERENCE_FORMATS,
    InputError,
    InputImage,
    fetch_image,
)
from bot.apiframe.sandbox.state import SANDBOX_KEY, Sandbox, SandboxJob
from bot.apiframe.sandbox.validation import CONTENT_TYPES, params_of, validate_body


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
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
    if fault.kind in ("drop", "lose_answer"):  # (`submit` takes lose_answer before this)
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError  # the client sees the connection die
    retry_after = fault.retry_after or ("1" if fault.status == 429 else None)
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    messages = {429: "Rate limit exceeded", 503: "Service temporarily unavailable"}
    return json_reply(
        {"error": messages.get(fault.status, "Internal error")}, fault.status, headers
    )


def _answer(request: web.Request, response: web.Response, lose: bool) -> web.Response:
    """`response`, unless a `lose_answer` fault says the client never gets it."""
    if lose and request.transport is not None:
        request.transport.close()
        raise asyncio.CancelledError
    return response


def _auth(request: web.Request, sandbox: Sandbox) -> tuple[str | None, web.Response | None]:
    key = request.headers.get("X-API-Key")
    if not key:
        return None, json_reply({"error": "API key is required"}, 401)
    if key in sandbox.config.inactive_keys:
        return None, json_reply({"error": "API key is inactive"}, 403)
    if key not in sandbox.config.api_keys:
        return None, json_reply({"error": "Invalid API key"}, 401)
    return key, None


@dataclass
class Priced:
    """What a valid submission costs, and the input pictures its job is drawn from."""

    cost: int
    source: bytes | None = field(default=None, repr=False)
    mask: bytes | None = field(default=None, repr=False)
    references: tuple[bytes, ...] = field(default=(), repr=False)  # a generation's, in order


Validate = Callable[[Any], dict[str, list[str]]]
# Prices a valid body, or answers (a 400 for an input image it cannot use).
Price = Callable[[Sandbox, dict[str, Any]], Awaitable["Priced | web.Response"]]


def invalid(details: dict[str, list[str]], error: str = "Invalid request body") -> web.Response:
    """Apiframe's ValidationError answer."""
    return json_reply({"error": error, "details": details}, 400)


INVALID_INPUT = "Invalid input image"


async def fetch_input(
    sandbox: Sandbox, url: str, formats: tuple[str, ...] = FORMATS
) -> InputImage | InputError:
    """The picture at `url`, or the InputError that says why it cannot be used."""
    if sandbox._session is None:
        raise RuntimeError("the sandbox is not started")
    try:
        return await fetch_image(
            sandbox._session,
            url,
            time_limit=sandbox.config.input_timeout_seconds,
            max_bytes=sandbox.config.input_max_bytes,
            formats=formats,
        )
    except InputError as error:
        return error


async def submit(
    request: web.Request, route: str, validate: Validate, price: Price
) -> web.Response:
    """A job submission as Apiframe answers it: faults, auth, the schema, Idempotency-Key
    replay (409 for another body), the price (402 when the balance cannot cover it), then the
    job, paid for now and refunded if it fails, and `202 {jobId, status}`."""
    sandbox = request.app[SANDBOX_KEY]
    upcoming = next((f for f in sandbox.faults if f.route in (route, "any")), None)
    lose = upcoming is not None and upcoming.kind == "lose_answer"
    if lose:
        sandbox._take_fault(route)
    elif (faulty := await _apply_fault(request, sandbox, route)) is not None:
        return faulty
    key, refusal = _auth(request, sandbox)
    if refusal is not None or key is None:
        return refusal or json_reply({"error": "API key is required"}, 401)
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
        return json_reply({"error": "Invalid JSON body"}, 400)
    problems = validate(body)
    if problems:
        return invalid(problems)
    if idem is not None:
        if len(idem) > 255:
            return invalid({"Idempotency-Key": ["Too long"]})
        existing = sandbox.by_idempotency.get((key, idem))
        ttl = sandbox.config.idempotency_ttl_seconds
        if existing is not None and sandbox.now() - sandbox.jobs[existing].started > ttl:
            existing = None  # the key is forgotten after 24 h: a new, paid job
        if existing is not None:
            job = sandbox.settle(sandbox.jobs[existing])
            if job.body != body:
                return json_reply(
                    {"error": "Idempotency-Key reuse with different request body"}, 409
                )
            return _answer(request, json_reply({"jobId": job.id, "status": job.status}, 202), lose)
    priced = await price(sandbox, body)
    if isinstance(priced, web.Response):
        return priced
    available = sandbox.available_credits()
    if available is not None and available < priced.cost:
        return json_reply(
            {
                "error": "Insufficient credits",
                "creditsRequired": priced.cost,
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
    seed = params_of(body).get("seed")
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
        processing_seconds=sandbox.config.processing_for(params_of(body)) * spread,
        outcome=outcome,
        seed=seed if isinstance(seed, int) else random.randrange(2**32),  # noqa: S311
        cost=priced.cost,
        source=priced.source,
        mask=priced.mask,
        references=priced.references,
    )
    sandbox.jobs[job.id] = job
    sandbox.charge(job)
    if idem is not None:
        sandbox.by_idempotency[(key, idem)] = job.id
    sandbox.stats["created"] += 1
    if outcome is None or outcome.status == "COMPLETED":
        # Render while the job "runs", so the CDN answers at once like a real one.
        sandbox._spawn(sandbox.prerender(job))
    if body.get("webhookUrl"):
        events = set(body.get("webhookEvents") or ["completed", "failed"])
        sandbox._spawn(sandbox._webhooks(job, body["webhookUrl"], events, _base(request, sandbox)))
    return _answer(request, json_reply({"jobId": job.id, "status": "QUEUED"}, 202), lose)


async def _price_generation(sandbox: Sandbox, body: dict[str, Any]) -> Priced | web.Response:
    """A generation's references (`input_images`, and `image_prompt` when it names another
    picture) are fetched at once, each URL once, as Apiframe probes them to price the job: one
    that cannot be used is a 400 naming every field it is in. Each reference costs its
    megapixels, as BFL bills them."""
    params = params_of(body)
    urls = list(params.get("input_images") or [])
    if "image_prompt" in params and params["image_prompt"] not in urls:
        urls.append(params["image_prompt"])  # the bot sends the first reference in both
    places: dict[str, list[str]] = {}  # URL -> the fields that name it
    for index, url in enumerate(params.get("input_images") or []):
        places.setdefault(url, []).append(f"fluxParams.input_images.{index}")
    if "image_prompt" in params:
        places.setdefault(params["image_prompt"], []).append("fluxParams.image_prompt")
    fetched = dict(
        zip(
            places,
            await asyncio.gather(*(fetch_input(sandbox, u, REFERENCE_FORMATS) for u in places)),
            strict=True,
        )
    )
    problems: dict[str, list[str]] = {}
    for url, got in fetched.items():
        if isinstance(got, InputError):
            problems |= {where: [str(got)] for where in places[url]}
        elif problem := too_large(sandbox, got.width, got.height, "The image is"):
            problems |= {where: [problem] for where in places[url]}  # it is decoded to be drawn
    if problems:
        return invalid(dict(sorted(problems.items())), INVALID_INPUT)
    images = [got for url in urls if isinstance(got := fetched[url], InputImage)]
    pixels = sum(image.width * image.height for image in images)
    return Priced(sandbox.cost(body, pixels), references=tuple(i.data for i in images))


def too_large(
    sandbox: Sandbox, width: int, height: int, what: str = "The result would be"
) -> str | None:
    """Why a picture of this size is refused (the sandbox decodes or draws it), or None."""
    most = sandbox.config.max_output_pixels
    if width * height <= most:
        return None
    return (
        f"{what} {width}x{height} ({width * height / 1e6:.1f} MP); the sandbox"
        f" renders at most {most / 1e6:g} MP"
    )


async def generate(request: web.Request) -> web.Response:
    return await submit(request, "generate", validate_body, _price_generation)


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
        return json_reply({"error": "Invalid job id"}, 400)
    job = sandbox.jobs.get(job_id)
    if job is None or job.key != key:
        return json_reply({"error": "Job not found"}, 404)
    return json_reply(sandbox.job_json(job, _base(request, sandbox)))


async def me(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    if (faulty := await _apply_fault(request, sandbox, "me")) is not None:
        return faulty
    key, refusal = _auth(request, sandbox)
    if refusal is not None or key is None:
        return refusal or json_reply({"error": "API key is required"}, 401)
    return json_reply(
        {
            "user": {"id": "sandbox-user", "email": "sandbox@localhost", "role": "owner"},
            "team": {
                "id": "sandbox-team",
                "name": "Sandbox",
                # The schema says a number of at least 0: "unlimited" shows as a large one.
                "credits": sandbox.balance(),
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
        return json_reply({"error": "Not found"}, 404)
    data = await sandbox.image_bytes(job)
    return web.Response(
        body=data, content_type=CONTENT_TYPES[job.fmt], headers={"x-request-id": str(uuid.uuid4())}
    )
