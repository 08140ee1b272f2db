"""Poll mode against the product page's loop (every job polled every 2 s), side by side.

    uv run python bench/bench_poll.py [--cases 20:8,20:50,4:8,4:50] [--modes linear,none,steps]
        [--rounds 1]

For each case (mean job seconds : concurrent jobs, durations varying ± 30 %; or "mix", not
run unless asked: 4 jobs of 0.5 MP that take about 8 s beside 4 of 4 MP that take about 32 s,
sent after a burst of 12 like them that the bot learns each resolution's time from) and each
way the
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
from bot.apiframe.models import FluxParams, GenerateRequest
from bot.apiframe.sandbox import SANDBOX_KEY, SandboxConfig, create_app
from bot.logs import setup_logging

QUEUED = 0.5
JITTER = 0.3
# The mixed case: 0.5 MP jobs of about 8 s beside 4 MP jobs of about 32 s (± JITTER).
MIXED = {"0.5MP": 8.0, "4MP": 32.0}
Burst = list[tuple[int, str]]  # (jobs, resolution) sent at once


def sandbox_config(
    mean: float, mode: str, by_resolution: dict[str, float] | None = None
) -> SandboxConfig:
    config = SandboxConfig(
        api_keys={KEY},
        queued_seconds=QUEUED,
        processing_seconds=mean - QUEUED,
        duration_jitter=JITTER,
        resolution_seconds={r: seconds - QUEUED for r, seconds in (by_resolution or {}).items()},
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


async def bot_run(config: SandboxConfig, bursts: list[Burst], env: dict[str, str]) -> BotRun:
    """The bursts one after the other, each delivered before the next; the last is measured
    (the ones before it are what the bot learns from)."""
    run = BotRun()
    async with world(config, env) as (discord, sandbox, _):
        seen = record_completed_polls(sandbox)
        for number, burst in enumerate(bursts):
            requests_before = sandbox.stats["polls"] + sandbox.stats["lists"]
            sent = await asyncio.gather(
                *(
                    run_commands(discord, count, f"b{number}r{i}", {"resolution": resolution})
                    for i, (count, resolution) in enumerate(burst)
                )
            )
            handles = [handle for group in sent for handle in group]
            for handle in handles:
                await handle.wait_original(lambda m: bool(m.attachments), timeout=300)
            requests = sandbox.stats["polls"] + sandbox.stats["lists"] - requests_before
        run.requests = requests / len(handles)
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


async def naive_run(config: SandboxConfig, burst: Burst) -> tuple[list[float], float]:
    app = create_app(config)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    sandbox = app[SANDBOX_KEY]
    latencies: list[float] = []
    resolutions = [resolution for count, resolution in burst for _ in range(count)]
    async with ApiframeClient(KEY, str(server.make_url("")).rstrip("/")) as client:

        async def one(i: int, resolution: str) -> None:
            accepted = await client.submit(
                GenerateRequest(prompt=f"naive {i}", flux_params=FluxParams(resolution=resolution)),
                idempotency_key=f"naive-{i}",
            )
            while True:
                await asyncio.sleep(2)
                job = await client.get_job(accepted.job_id)
                if job.status.is_terminal:
                    latencies.append(time.monotonic() - finished_at(sandbox.jobs[accepted.job_id]))
                    return

        await asyncio.gather(*(one(i, r) for i, r in enumerate(resolutions)))
    await server.close()
    return latencies, sandbox.stats["polls"] / len(resolutions)


def row(name: str, latencies: list[float], polls: float | None = None) -> str:
    p50, p95 = statistics.median(latencies), pct(latencies, 95)
    text = f"  {name:<12} p50 {p50:5.2f} s   p95 {p95:5.2f} s"
    return text if polls is None else f"{text}   {polls:4.1f} status requests per job"


async def case(
    name: str, config: SandboxConfig, bursts: list[Burst], env: dict[str, str], rounds: int
) -> None:
    ours, naive, bot_requests, naive_requests = BotRun(), [], 0.0, 0.0
    for _ in range(rounds):
        bot, (latencies, requests) = await asyncio.gather(
            bot_run(config, bursts, env), naive_run(config, bursts[-1])
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
    print(f"{name} ({rounds} round(s), load {load:.1f}):")
    print(row("bot", ours.posted, bot_requests))
    print(row("  seen", ours.seen))
    print(row("  deliver", ours.deliver))
    print(row("naive 2 s", naive, naive_requests))
    print(f"  bot/naive    p50 {p50:.2f}x (target ≤ 0.25)  p95 {p95:.2f}x (target ≤ 0.5)"
          f"  requests {bot_requests / naive_requests:.2f}x (target ≤ 1)")  # fmt: skip


def spec(text: str, mode: str) -> tuple[str, SandboxConfig, list[Burst], dict[str, str]]:
    """A case from its spec: "mean:jobs", or "mix" (8 jobs, half 0.5 MP and half 4 MP, after
    a burst of 12 like them that the bot learns from)."""
    if text == "mix":
        small, big = MIXED
        name = (f"8 jobs, 4 of 0.5 MP ({MIXED[small]:g} s) and 4 of 4 MP ({MIXED[big]:g} s)"
                f" ± {JITTER:.0%} after 12 like them, progress {mode}")  # fmt: skip
        bursts = [[(6, small), (6, big)], [(4, small), (4, big)]]
        env = {"MAX_JOBS_IN_FLIGHT": "64"}  # the prior stays the default 20 s
        return name, sandbox_config(20.0, mode, MIXED), bursts, env
    mean_text, n_text = text.split(":")
    mean, n = float(mean_text), int(n_text)
    # The prior the bot would have learned from earlier jobs of this length.
    env = {"MAX_JOBS_IN_FLIGHT": str(max(64, n)), "EXPECTED_JOB_SECONDS": str(mean)}
    name = f"{n} jobs of {mean:g} s ± {JITTER:.0%}, progress {mode}"
    return name, sandbox_config(mean, mode), [[(n, "0.5MP")]], env


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="20:8,20:50,4:8,4:50")
    parser.add_argument("--modes", default="linear,none,steps")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    setup_logging(os.environ.get("BENCH_LOG_LEVEL", "CRITICAL"))
    for text in args.cases.split(","):
        for mode in args.modes.split(","):
            await case(*spec(text, mode), args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
