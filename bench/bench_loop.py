"""Event-loop stalls while results are re-encoded. Prints figures.

    uv run python bench/bench_loop.py [--jobs 50] [--limit-mb 4] [--resolution 4MP]

N members each ask for a 4 MP PNG at once (the sandbox's are ≈11 MiB, noise under a gradient,
like photos); the local Discord's upload limit is set low, so every result must be re-encoded
before it can be posted. The bot runs as its own process, as deployed; its event-loop lag
comes from its /metrics (a histogram of how late a 50 ms timer fires, sampled 20 times a
second) and /healthz (the largest lag in the last minute, read every second).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).parent))
from bench_flux import KEY, pct, posted_latencies, run_commands, world

from bot.apiframe.sandbox import SandboxConfig
from bot.logs import setup_logging
from tests.discord_standin.server import StandInConfig

Buckets = dict[float, float]
# The same 50 ms timer in an idle process of its own: how late the machine alone (other
# processes, two cores) wakes a loop that does nothing, to tell from the bot's own stalls.
CONTROL = """
import asyncio, json, sys, time
async def main():
    lags = []
    async def probe():
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.05)
            lags.append(time.perf_counter() - start - 0.05)
    task = asyncio.create_task(probe())
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    task.cancel()
    lags.sort()
    print(json.dumps({"n": len(lags), "p50": lags[len(lags) // 2],
                      "p99": lags[int(len(lags) * 0.99)], "max": lags[-1]}))
asyncio.run(main())
"""


async def lag_histogram(http: aiohttp.ClientSession, port: int) -> tuple[Buckets, float]:
    """The bot's loop-lag histogram now: cumulative count per upper bound, and the count."""
    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    buckets: Buckets = {}
    count = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != "flux_event_loop_lag_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                buckets[float(sample.labels["le"])] = sample.value
            elif sample.name.endswith("_count"):
                count = sample.value
    return buckets, count


def quantile(q: float, before: Buckets, after: Buckets) -> float:
    """histogram_quantile over the samples taken between two scrapes (linear in a bucket)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return math.nan
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / max(cumulative - below, 1e-9)
        lower, below = bound, cumulative
    return lower


async def watch_health(http: aiohttp.ClientSession, port: int, seen: dict[str, float]) -> None:
    """Keep the largest loop lag and peak memory /healthz reports, once a second."""
    while True:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            health = await response.json()
        seen["max_ms"] = max(seen.get("max_ms", 0.0), health.get("loop_lag_max_ms") or 0.0)
        seen["rss_mb"] = health.get("peak_rss_mb") or 0.0
        await asyncio.sleep(1)


async def bench(jobs: int, limit_mb: float, resolution: str) -> None:
    config = SandboxConfig(
        api_keys={KEY},
        queued_seconds=0.3,
        processing_seconds=2.0,
        duration_jitter=0.3,
        reuse_images=True,  # one 4 MP PNG drawn once: the sandbox shares this process
    )
    env = {
        "MAX_JOBS_IN_FLIGHT": str(jobs + 10),
        "EXPECTED_JOB_SECONDS": "2.3",
        "POLL_RATE": "20",
        "PROGRESS_INTERVAL": "2.5",
    }
    standin = StandInConfig(validate_openapi=False, response_deadline=10)
    async with world(config, env, standin) as (discord, sandbox, port):
        discord.guild.upload_limit = int(limit_mb * 2**20)
        seen: dict[str, float] = {}
        async with aiohttp.ClientSession() as http:
            watcher = asyncio.create_task(watch_health(http, port, seen))
            # Warm-up: the first job pays for imports and the sandbox's one drawing.
            warm = await run_commands(
                discord, 1, "warm", {"resolution": resolution, "format": "png"}
            )
            await posted_latencies(discord, sandbox, warm, 120)
            await asyncio.sleep(1.5)
            seen.clear()
            control = await asyncio.create_subprocess_exec(
                sys.executable, "-c", CONTROL,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            before, count_before = await lag_histogram(http, port)
            started = time.monotonic()
            handles = await run_commands(
                discord, jobs, "loop", {"resolution": resolution, "format": "png"}
            )
            latencies = await posted_latencies(discord, sandbox, handles, 600)
            wall = time.monotonic() - started
            await asyncio.sleep(1.2)  # one more /healthz read covers the end of the run
            after, count_after = await lag_histogram(http, port)
            watcher.cancel()
            idle = json.loads((await control.communicate(b""))[0])
    sizes = [h.original.attachments[0].get("size", 0) for h in handles]
    reencoded = sum(1 for h in handles if h.original.attachments[0]["filename"].endswith(".webp"))
    print(f"{jobs} × {resolution} PNG ({sandbox_png_mb(sandbox):.1f} MiB) into a "
          f"{limit_mb:g} MiB upload limit: {reencoded}/{jobs} re-encoded, posted "
          f"{statistics.mean(sizes) / 2**20:.1f} MiB on average, all in {wall:.1f} s")  # fmt: skip
    print(f"  completion → posted: p50 {statistics.median(latencies):.2f} s, "
          f"p95 {pct(latencies, 95):.2f} s, max {max(latencies):.2f} s")  # fmt: skip
    samples = count_after - count_before
    p99 = quantile(0.99, before, after) * 1000
    p50 = quantile(0.5, before, after) * 1000
    print(f"  bot event-loop lag over {samples:.0f} samples: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          f"(bucket-interpolated), max {seen.get('max_ms', math.nan):.1f} ms; "
          f"peak RSS {seen.get('rss_mb', math.nan):.0f} MiB")  # fmt: skip
    print(f"  an idle process's loop meanwhile (the machine's own noise): p50 "
          f"{idle['p50'] * 1000:.1f} ms, p99 {idle['p99'] * 1000:.1f} ms, "
          f"max {idle['max'] * 1000:.1f} ms")  # fmt: skip


def sandbox_png_mb(sandbox: Any) -> float:
    images = [job.image for job in sandbox.jobs.values() if getattr(job, "image", None)]
    return len(images[0]) / 2**20 if images else math.nan


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--limit-mb", type=float, default=4.0)
    parser.add_argument("--resolution", default="4MP")
    args = parser.parse_args()
    setup_logging("CRITICAL")
    await bench(args.jobs, args.limit_mb, args.resolution)


if __name__ == "__main__":
    asyncio.run(main())
