"""The unauthenticated `/_sandbox/*` routes tests and admins steer the sandbox with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from bot.apiframe.sandbox.config import Fault, Outcome, SandboxConfig, WebhookFaults
from bot.apiframe.sandbox.routes import json_reply
from bot.apiframe.sandbox.state import SANDBOX_KEY


@web.middleware
async def control_errors(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """A malformed control request is a 400 naming the problem, not a 500."""
    try:
        response: web.StreamResponse = await handler(request)
    except (ValidationError, ValueError) as error:
        if not request.path.startswith("/_sandbox/"):
            raise
        return json_reply({"error": "Invalid control request", "details": str(error)}, 400)
    return response


async def control_faults(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    sandbox.add_fault(Fault.model_validate(await request.json()))
    return json_reply({"faults": len(sandbox.faults)})


async def control_outcomes(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    sandbox.add_outcome(Outcome.model_validate(await request.json()))
    return json_reply({"outcomes": len(sandbox.outcomes)})


async def control_webhooks(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    sandbox.webhook_faults = WebhookFaults.model_validate(await request.json())
    return json_reply(sandbox.webhook_faults.model_dump())


async def control_config(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    changes = await request.json()
    sandbox.config = sandbox.config.model_copy(
        update=SandboxConfig.model_validate({**sandbox.config.model_dump(), **changes}).model_dump()
    )
    # The control routes have no authentication: never hand out the keys the API accepts.
    shown = sandbox.config.model_dump(mode="json", exclude={"api_keys", "inactive_keys"})
    return json_reply(shown)


async def control_advance(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    sandbox.advance(float((await request.json()).get("seconds", 0)))
    return json_reply({"ok": True})


async def control_reset(request: web.Request) -> web.Response:
    request.app[SANDBOX_KEY].reset()
    return json_reply({"ok": True})


async def control_stats(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    return json_reply(sandbox.settle_all())


async def control_requests(request: web.Request) -> web.Response:
    return json_reply(request.app[SANDBOX_KEY].requests)
