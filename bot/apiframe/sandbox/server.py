"""The sandbox as an aiohttp application, and a helper that serves it on a port."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from bot.apiframe.sandbox.config import SandboxConfig
from bot.apiframe.sandbox.control import (
    control_advance,
    control_config,
    control_errors,
    control_faults,
    control_outcomes,
    control_requests,
    control_reset,
    control_stats,
    control_webhooks,
)
from bot.apiframe.sandbox.edits import edit, models, upscale
from bot.apiframe.sandbox.listing import list_jobs
from bot.apiframe.sandbox.routes import cdn, generate, get_job, me
from bot.apiframe.sandbox.state import SANDBOX_KEY, Sandbox


def create_app(
    config: SandboxConfig | None = None, *, clock: Callable[[], float] = time.monotonic
) -> web.Application:
    """The sandbox as an aiohttp application; its state is `app[SANDBOX_KEY]`."""
    sandbox = Sandbox(config or SandboxConfig(), clock)
    app = web.Application(middlewares=[control_errors])
    app[SANDBOX_KEY] = sandbox
    app.on_startup.append(sandbox.start)
    app.on_cleanup.append(sandbox.stop)
    app.router.add_post("/v2/images/generate", generate)
    app.router.add_post("/v2/images/upscale", upscale)
    app.router.add_post("/v2/images/edit", edit)
    app.router.add_get("/v2/models", models)
    app.router.add_get("/v2/jobs", list_jobs)
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
