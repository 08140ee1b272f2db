"""Poll mode against the product page's loop (every job polled every 2 s), side by side.

    uv run python bench/bench_poll.py [--cases 20:8,20:50,4:8,4:50] [--modes linear,none,steps]
        [--rounds 1]

For each case (mean job seconds : concurrent jobs; durations vary ± 30 %) and each way the
sandbox reports progress ("linear": the percent done, as Apiframe documents it; "none": 0
until it jumps to 100; "steps": four coarse steps), the real bot runs as its own process with
its default POLL_RATE against the local Discord and the sandbox, and the naive loop runs
against a sandbox of its own with the same jobs. Printed: completion → image posted for the
bot, completion → seen for the naive loop (it neither downloads nor posts, so the comparison
flatters it), and status requests per job for both (the bot's `GET /v2/jobs` pages, each of
which looks at many jobs, count as one each). The bot's time splits into "seen" (completion →
the first status answer saying COMPLETED: the polling) and "deliver" (that answer → posted:
download, fit, upload). `--rounds` repeats each case and pools the samples (8 jobs give
noisy percentiles). The load average is printed with each case.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field

from aiohttp.test_utils import TestServer
from bench_flux import KEY, finished_at, pct, record_completed_polls, run_commands, world

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


@dataclass
class BotRun:
    posted: list[float] = field(default_factory=list)  # completion → image posted
    seen: list[float] = field(default_factory=list)  # completion → first answer COMPLETED
    deliver: list[float] = field(default_factory=list)  # that answer → image posted
    requests: float = 0.0  # status requests (polls and pages) per job


async def bot_run(mean: float, n: int, mode: str) -> BotRun:
    # The prior the bot would have learned from earlier jobs of this length.
    env = {"MAX_JOBS_IN_FLIGHT": str(max(64, n)), "EXPECTED_JOB_SECONDS": str(mean)}
    run = BotRun()
    async with world(sandbox_config(mean, mode), env) as (discord, sandbox, _):
        seen = record_completed_polls(sandbox)
        requests_before = sandbox.stats["polls"] + sandbox.stats["lists"]
        handles = await run_commands(discord, n, f"p{mode}", {"resolution": "0.5MP"})
        for handle in handles:
            await handle.wait_original(lambda m: bool(m.attachments), timeout=mean * 3 + 60)
        run.requests = (sandbox.stats["polls"] + sandbox.stats["lists"] - requests_before) / n
        by_prompt = {job.body["prompt"]: job for job in sandbox.jobs.values()}
        for handle in handles:
            message = handle.original
            posted = next(
                e.at
                for e in discord.server.timeline
                if e.message_id == message.id and e.attachments
            )
            job = by_prompt[message.attachments[0]["description"]]
            done = finished_at(job)
            run.posted.append(posted - done)
            run.seen.append(seen[job.id] - done)
            run.deliver.append(posted - seen[job.id])
    return run


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


def row(name: str, latencies: list[float], polls: float | None = None) -> str:
    p50, p95 = statistics.median(latencies), pct(latencies, 95)
    text = f"  {name:<12} p50 {p50:5.2f} s   p95 {p95:5.2f} s"
    return text if polls is None else f"{text}   {polls:4.1f} status requests per job"


async def case(mean: float, n: int, mode: str, rounds: int) -> None:
    ours, naive, bot_requests, naive_requests = BotRun(), [], 0.0, 0.0
    for _ in range(rounds):
        bot, (latencies, requests) = await asyncio.gather(
            bot_run(mean, n, mode), naive_run(mean, n, mode)
        )
        ours.posted += bot.posted
        ours.seen += bot.seen
        ours.deliver += bot.deliver
        bot_requests += bot.requests / rounds
        naive += latencies
        naive_requests += requests / rounds
    load = os.getloadavg()[0]
    p50 = statistics.median(ours.posted) / statistics.median(naive)
    p95 = pct(ours.posted, 95) / pct(naive, 95)
    print(f"{n} jobs of {mean:g} s ± {JITTER:.0%}, progress {mode}"
          f" ({rounds} round(s), load {load:.1f}):")  # fmt: skip
    print(row("bot", ours.posted, bot_requests))
    print(row("  seen", ours.seen))
    print(row("  deliver", ours.deliver))
    print(row("naive 2 s", naive, naive_requests))
    print(f"  bot/naive    p50 {p50:.2f}x (target ≤ 0.25)  p95 {p95:.2f}x (target ≤ 0.5)"
          f"  requests {bot_requests / naive_requests:.2f}x (target ≤ 1)")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="20:8,20:50,4:8,4:50")
    parser.add_argument("--modes", default="linear,none,steps")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    setup_logging(os.environ.get("BENCH_LOG_LEVEL", "CRITICAL"))
    for spec in args.cases.split(","):
        mean_text, n_text = spec.split(":")
        mean, n = float(mean_text), int(n_text)
        for mode in args.modes.split(","):
            await case(mean, n, mode, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
