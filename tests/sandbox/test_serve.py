"""Running the sandbox as a server: `serve()` on a free port, clean shutdown, clock control."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.apiframe.sandbox import SANDBOX_KEY, Outcome, SandboxConfig, serve
from tests.sandbox.conftest import BODY


async def test_serve_binds_a_free_port_and_answers() -> None:
    """serve(host, 0, config) returns a runner and a working base URL."""
    runner, url = await serve("127.0.0.1", 0, SandboxConfig(api_keys={"afk_serve"}))
    try:
        assert url.startswith("http://127.0.0.1:")
        assert not url.endswith(":0")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/v2/me", headers={"X-API-Key": "afk_serve"}) as r:
                assert r.status == 200
            async with http.get(f"{url}/v2/me", headers={"X-API-Key": "afk_sandbox"}) as r:
                assert r.status == 401
    finally:
        await runner.cleanup()


async def test_default_config_accepts_the_sandbox_key() -> None:
    """With the default config the key `afk_sandbox` works, as `flux-bot sandbox` documents."""
    runner, url = await serve("127.0.0.1", 0, SandboxConfig())
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{url}/v2/me", headers={"X-API-Key": "afk_sandbox"}) as r,
        ):
            assert r.status == 200
    finally:
        await runner.cleanup()


async def test_cleanup_cancels_background_work() -> None:
    """Shutting down cancels pending webhook and render tasks instead of leaking them."""
    clock_value = 0.0
    runner, url = await serve(
        "127.0.0.1", 0, SandboxConfig(api_keys={"afk_serve"}), clock=lambda: clock_value
    )
    sandbox = runner.app[SANDBOX_KEY]
    sandbox.add_outcome(Outcome(status="NEVER"))
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            async with http.post(
                f"{url}/v2/images/generate",
                json={**BODY, "webhookUrl": "http://127.0.0.1:9/hook"},
                headers={"X-API-Key": "afk_serve"},
            ) as r:
                assert r.status == 202
    tasks = set(sandbox._tasks)
    assert tasks
    await runner.cleanup()
    await asyncio.sleep(0)
    assert all(task.done() for task in tasks)
    assert not sandbox._tasks


async def test_injected_clock_drives_the_state() -> None:
    """With an injected clock the job moves only when that clock moves."""
    now = [500.0]
    runner, url = await serve(
        "127.0.0.1", 0, SandboxConfig(api_keys={"afk_serve"}), clock=lambda: now[0]
    )
    headers = {"X-API-Key": "afk_serve"}
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/v2/images/generate", json=BODY, headers=headers) as r:
                job_id = (await r.json())["jobId"]
            statuses = []
            for step in (0.0, 2.0, 10.0):
                now[0] += step
                async with http.get(f"{url}/v2/jobs/{job_id}", headers=headers) as r:
                    statuses.append((await r.json())["status"])
        assert statuses == ["QUEUED", "PROCESSING", "COMPLETED"]
    finally:
        await runner.cleanup()
