"""Benchmarks of `/flux` through the local Discord and the Apiframe sandbox. Prints figures.

    uv run python bench/bench_flux.py [--jobs 50] [--inflight 1000]

Scenarios:
1. ack latency of N commands arriving at once;
2. poll mode: completion → image posted, and polls per job, next to a fixed 2 s polling loop
   run against the same sandbox;
3. webhook mode: completion → image posted for 2 MP JPEGs;
4. 1000 jobs in flight: peak RSS and event-loop lag (the stand-ins share the process, so the
   figures are an upper bound for the bot alone).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from bot.apiframe.client import ApiframeClient  # noqa: E402
from bot.apiframe.models import GenerateRequest  # noqa: E402
from bot.apiframe.sandbox import SANDBOX_KEY, Sandbox, SandboxConfig, create_app  # noqa: E402
from bot.logs import setup_logging  # noqa: E402
from tests.discord_standin import LocalDiscord  # noqa: E402
from tests.discord_standin.server import StandInConfig  # noqa: E402

KEY = "afk_bench_key"


def pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def world(
    config: SandboxConfig, env: dict[str, str], standin: StandInConfig | None = None
) -> AsyncIterator[tuple[LocalDiscord, Sandbox, int]]:
    """The stand-ins in this process and the real bot as its own process, as deployed."""
    # The stand-in's OpenAPI check costs it milliseconds per request; the tests keep it on,
    # the bench measures the bot.
    discord = LocalDiscord(standin or StandInConfig(validate_openapi=False))
    await discord.start()
    app = create_app(config)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    port = int(env.get("WEB_PORT") or free_port())
    with tempfile.TemporaryDirectory() as tmp:
        bot_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": discord.token,
            "APIFRAME_API_KEY": KEY,
            "APIFRAME_BASE_URL": str(server.make_url("")).rstrip("/"),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
            "DISCORD_API_BASE_URL": discord.api_base,
            "DISCORD_GATEWAY_URL": discord.gateway_url,
            "DISCORD_GUILD_IDS": str(discord.guild.id),
            "WEB_PORT": str(port),
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            **env,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "run", cwd=tmp, env=bot_env,
        )  # fmt: skip
        try:
            await discord.wait_ready(timeout=60)
            yield discord, app[SANDBOX_KEY], port
        finally:
            process.terminate()
            await process.wait()
            await server.close()
            await discord.stop()


async def run_commands(
    discord: LocalDiscord, n: int, prefix: str, options: dict[str, Any]
) -> list[Any]:
    members = [discord.add_member(f"{prefix}{i}") for i in range(n)]
    return list(
        await asyncio.gather(
            *(
                discord.invoke("flux", user=m, options={"prompt": f"{prefix} {i}", **options})
                for i, m in enumerate(members)
            )
        )
    )


def finished_at(job: Any) -> float:
    """When the sandbox job finished, on the sandbox's (monotonic) clock."""
    return float(job.started + job.queued_seconds + job.processing_seconds)


def record_completion_webhooks(sandbox: Sandbox) -> dict[str, float]:
    """Note when the sandbox starts sending each job's `completed` webhook."""
    sent: dict[str, float] = {}
    send = sandbox._send

    async def timed(job: Any, url: str, event: str, base: str, progress: int | None = None) -> bool:
        if event == "completed":
            sent.setdefault(job.id, sandbox.now())
        return await send(job, url, event, base, progress)

    sandbox._send = timed  # type: ignore[method-assign]
    return sent


def record_completed_polls(sandbox: Sandbox) -> dict[str, float]:
    """Note when a poll first sees each job COMPLETED."""
    seen: dict[str, float] = {}
    job_json = sandbox.job_json

    def timed(job: Any, base: str) -> dict[str, Any]:
        body = job_json(job, base)
        if body.get("status") == "COMPLETED":
            seen.setdefault(job.id, sandbox.now())
        return body

    sandbox.job_json = timed  # type: ignore[method-assign]
    return seen


async def posted_latencies(
    discord: LocalDiscord, sandbox: Sandbox, handles: list[Any], wait: float
) -> list[float]:
    """Seconds from each job's completion at Apiframe to its image appearing in Discord."""
    for handle in handles:
        await handle.wait_original(lambda m: bool(m.attachments), timeout=wait)
    by_prompt = {job.body["prompt"]: job for job in sandbox.jobs.values()}
    latencies = []
    for handle in handles:
        message = handle.original
        posted = next(
            e.at for e in discord.server.timeline if e.message_id == message.id and e.attachments
        )
        prompt = message.attachments[0]["description"]
        job = by_prompt[prompt]
        latencies.append(posted - finished_at(job))
    return latencies


async def bench_ack_and_poll(n: int) -> None:
    config = SandboxConfig(
        api_keys={KEY}, queued_seconds=0.5, processing_seconds=6.0, duration_jitter=0.3
    )
    env = {"MAX_JOBS_IN_FLIGHT": "64", "EXPECTED_JOB_SECONDS": "6.5", "POLL_RATE": "20"}
    async with world(config, env) as (discord, sandbox, _):
        # Warm-up: the bot learns the typical duration from finished jobs.
        warm = await run_commands(discord, 5, "warm", {"resolution": "0.5MP"})
        await posted_latencies(discord, sandbox, warm, 60)
        polls_before = sandbox.stats["polls"]
        seen = record_completed_polls(sandbox)
        handles = await run_commands(discord, n, "poll", {"resolution": "0.5MP"})
        acks = [await h.wait_acknowledged() for h in handles]
        latencies = await posted_latencies(discord, sandbox, handles, 120)
        polls = (sandbox.stats["polls"] - polls_before) / n
        noticed = [seen[j.id] - finished_at(j) for j in sandbox.jobs.values() if j.id in seen]
    print(f"[1] ack latency, {n} at once: p50 {statistics.median(acks) * 1000:.1f} ms, "
          f"p99 {pct(acks, 99) * 1000:.1f} ms (target p99 < 100 ms)")  # fmt: skip
    print(f"[2] poll mode, {n} jobs of 6.5 s ± 30 %: completion → posted "
          f"p50 {statistics.median(latencies):.2f} s, p95 {pct(latencies, 95):.2f} s; "
          f"{polls:.1f} polls per job")  # fmt: skip
    print(f"    of which until a poll saw it finished: p50 {statistics.median(noticed):.2f} s, "
          f"p95 {pct(noticed, 95):.2f} s")  # fmt: skip
    await bench_fixed_loop(n)


async def bench_fixed_loop(n: int) -> None:
    """The naive strategy for comparison: poll every job every 2 s (no Discord involved)."""
    config = SandboxConfig(
        api_keys={KEY}, queued_seconds=0.5, processing_seconds=6.0, duration_jitter=0.3
    )
    app = create_app(config)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    sandbox = app[SANDBOX_KEY]
    url = str(server.make_url("")).rstrip("/")
    latencies: list[float] = []
    async with ApiframeClient(KEY, url) as client:

        async def one(i: int) -> None:
            accepted = await client.submit(
                GenerateRequest(prompt=f"fixed {i}"), idempotency_key=f"fixed-{i}"
            )
            while True:
                await asyncio.sleep(2)
                job = await client.get_job(accepted.job_id)
                if job.status.is_terminal:
                    sj = sandbox.jobs[accepted.job_id]
                    finished = sj.started + sj.queued_seconds + sj.processing_seconds
                    latencies.append(time.monotonic() - finished)
                    return

        await asyncio.gather(*(one(i) for i in range(n)))
    await server.close()
    p50, p95 = statistics.median(latencies), pct(latencies, 95)
    polls = sandbox.stats["polls"] / n
    print(f"    fixed 2 s loop, same jobs: completion → seen p50 {p50:.2f} s, "
          f"p95 {p95:.2f} s; {polls:.1f} polls per job")  # fmt: skip


async def bench_webhooks(n: int) -> None:
    config = SandboxConfig(
        api_keys={KEY},
        queued_seconds=0.3,
        processing_seconds=2.0,
        duration_jitter=0.3,
        reuse_images=True,
    )
    port = free_port()
    env = {
        "MAX_JOBS_IN_FLIGHT": "64",
        "WEB_PORT": str(port),
        "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "EXPECTED_JOB_SECONDS": "2.3",
    }
    async with world(config, env) as (discord, sandbox, _):
        sent = record_completion_webhooks(sandbox)
        handles = await run_commands(discord, n, "hook", {"resolution": "2MP", "format": "jpg"})
        latencies = await posted_latencies(discord, sandbox, handles, 120)
        # The stand-ins share this process: how late the sandbox itself sent each webhook.
        late = [sent[job.id] - finished_at(job) for job in sandbox.jobs.values() if job.id in sent]
        polls = sandbox.stats["polls"] / n
        limited = len(discord.server.rate_limited)
    print(f"[3] webhook mode, {n} × 2 MP JPEG: completion → posted p50 "
          f"{statistics.median(latencies) * 1000:.0f} ms, p95 {pct(latencies, 95) * 1000:.0f} ms "
          f"(target p95 < 250 ms); {polls:.2f} polls per job; {limited} Discord 429s")  # fmt: skip
    late_p50, late_p95 = statistics.median(late) * 1000, pct(late, 95) * 1000
    print(f"    of which the sandbox sent its webhook late: p50 {late_p50:.0f} ms, "
          f"p95 {late_p95:.0f} ms")  # fmt: skip


async def bench_inflight(n: int) -> None:
    """n jobs in flight at Apiframe: the bot's memory and event-loop lag."""
    config = SandboxConfig(api_keys={KEY}, queued_seconds=1.0, processing_seconds=3600)
    env = {"MAX_JOBS_IN_FLIGHT": str(n), "MAX_JOBS_IN_FLIGHT_PER_MEMBER": "5", "POLL_RATE": "20"}
    standin = StandInConfig(response_deadline=10, validate_openapi=False)
    async with world(config, env, standin) as (discord, sandbox, port):
        members = [discord.add_member(f"load{i}") for i in range(n)]
        started = time.monotonic()
        for i, member in enumerate(members):
            await discord.invoke(
                "flux", user=member, options={"prompt": f"load {i}", "resolution": "0.5MP"}
            )
            # Let the stand-in's other tasks (its gateway reader: heartbeats) run between
            # commands; an await that never suspends would starve them for the whole ramp.
            await asyncio.sleep(0)
        health: dict[str, Any] = {}
        async with aiohttp.ClientSession() as http:
            async with asyncio.timeout(300):
                while health.get("jobs_in_flight", 0) < n:
                    await asyncio.sleep(1)
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        health = await response.json()
            ramp = time.monotonic() - started
            await asyncio.sleep(20)  # steady state: n jobs being polled
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                health = await response.json()
        polls = sandbox.stats["polls"]
    print(f"[4] {health['jobs_in_flight']} jobs in flight (bot process alone, reached in "
          f"{ramp:.0f} s): peak RSS {health['peak_rss_mb']:.0f} MB (target < 300 MB), "
          f"event-loop lag p99 {health['loop_lag_p99_ms']} ms over the last minute "
          f"(target < 50 ms); {polls} polls in total")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--inflight", type=int, default=1000)
    parser.add_argument("--only", choices=["poll", "webhook", "inflight"])
    args = parser.parse_args()
    setup_logging(os.environ.get("BENCH_LOG_LEVEL", "CRITICAL"))
    if args.only in (None, "poll"):
        await bench_ack_and_poll(args.jobs)
    if args.only in (None, "webhook"):
        await bench_webhooks(args.jobs)
    if args.only in (None, "inflight"):
        await bench_inflight(args.inflight)


if __name__ == "__main__":
    asyncio.run(main())
