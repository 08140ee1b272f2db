"""Poll mode against the product page's loop (every job polled every 2 s), side by side.

    uv run python bench/bench_poll.py [--cases 20:8,20:50,4:8,4:50] [--modes linear,none]

For each case (mean job seconds : concurrent jobs; durations vary ± 30 %) and each way the
sandbox reports progress ("linear": the percent done, as Apiframe documents it; "none": 0
until it jumps to 100; "steps": four coarse steps), the real bot runs as its own process with
its default POLL_RATE against the local Discord and the sandbox, and the naive loop runs
against a sandbox of its own with the same jobs. Printed: completion → image posted for the
bot, completion → seen for the naive loop (it neither downloads nor posts, so the comparison
flatters it), and status requests per job for both (the bot's `GET /v2/jobs` pages, each of
which looks at many jobs, count as one each).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from aiohttp.test_utils import TestServer
from bench_flux import KEY, finished_at, pct, posted_latencies, run_commands, world

from bot.apiframe.client import ApiframeClient
from bot.apiframe.models import GenerateRequest
from bot.apiframe.sandbox import SANDBOX_KEY, SandboxConfig, create_app
from bot.logs import setup_logging

QUEUED = 0.5
JITTER = 0.3


def sandbox_config(mean: float, mode: str) -> SandboxConfig:
    config = SandboxConfig(
        api_keys={KEY},
        queued_seconds=QUEUED,
        processing_seconds=mean - QUEUED,
        duration_jitter=JITTER,
    )
    if mode == "linear":
        config.progress_mode = "linear"
    elif mode == "none":
        config.progress_steps = []
    return config


async def bot_run(mean: float, n: int, mode: str) -> tuple[list[float], float]:
    # The prior the bot would have learned from earlier jobs of this length.
    env = {"MAX_JOBS_IN_FLIGHT": str(max(64, n)), "EXPECTED_JOB_SECONDS": str(mean)}
    async with world(sandbox_config(mean, mode), env) as (discord, sandbox, _):
        polls_before = sandbox.stats["polls"] + sandbox.stats["lists"]
        handles = await run_commands(discord, n, f"p{mode}", {"resolution": "0.5MP"})
        latencies = await posted_latencies(discord, sandbox, handles, mean * 3 + 60)
        polls = (sandbox.stats["polls"] + sandbox.stats["lists"] - polls_before) / n
    return latencies, polls


async def naive_run(mean: float, n: int, mode: str) -> tuple[list[float], float]:
    app = create_app(sandbox_config(mean, mode))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    sandbox = app[SANDBOX_KEY]
    latencies: list[float] = []
    async with ApiframeClient(KEY, str(server.make_url("")).rstrip("/")) as client:

        async def one(i: int) -> None:
            accepted = await client.submit(
                GenerateRequest(prompt=f"naive {i}"),
                idempotency_key=f"naive-{i}",
            )
            while True:
                await asyncio.sleep(2)
                job = await client.get_job(accepted.job_id)
                if job.status.is_terminal:
                    latencies.append(time.monotonic() - finished_at(sandbox.jobs[accepted.job_id]))
                    return

        await asyncio.gather(*(one(i) for i in range(n)))
    await server.close()
    return latencies, sandbox.stats["polls"] / n


def row(name: str, latencies: list[float], polls: float) -> str:
    return (
        f"  {name:<12} p50 {statistics.median(latencies):5.2f} s   p95 {pct(latencies, 95):5.2f} s"
        f"   {polls:4.1f} status requests per job"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="20:8,20:50,4:8,4:50")
    parser.add_argument("--modes", default="linear,none")
    args = parser.parse_args()
    setup_logging(os.environ.get("BENCH_LOG_LEVEL", "CRITICAL"))
    for case in args.cases.split(","):
        mean_text, n_text = case.split(":")
        mean, n = float(mean_text), int(n_text)
        for mode in args.modes.split(","):
            ours, naive = await asyncio.gather(bot_run(mean, n, mode), naive_run(mean, n, mode))
            p50 = statistics.median(ours[0]) / statistics.median(naive[0])
            p95 = pct(ours[0], 95) / pct(naive[0], 95)
            print(f"{n} jobs of {mean:g} s ± {JITTER:.0%}, progress {mode}:")
            print(row("bot", *ours))
            print(row("naive 2 s", *naive))
            print(f"  bot/naive    p50 {p50:.2f}x (target ≤ 0.25)  p95 {p95:.2f}x (target ≤ 0.5)"
                  f"  requests {ours[1] / naive[1]:.2f}x (target ≤ 1)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
