"""The tools under an image against the sandbox: time from click to posted image for each kind,
and the credits each reserved next to what the sandbox charged. Prints figures.

    uv run python bench/bench_tools.py [--rounds 3]

The bot runs as its own process (as deployed) against the local Discord and the sandbox, whose
jobs take QUEUED + PROCESSING seconds; "overhead" is the click-to-posted time beyond that.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_flux import world  # noqa: E402
from bot.apiframe.sandbox import SandboxConfig  # noqa: E402
from tests.discord_standin.state import Message  # noqa: E402

KEY = "afk_bench_key"
QUEUED, PROCESSING = 0.2, 1.0
ACTIONS = (
    "upscale-subtle",
    "upscale-creative",
    "vary-subtle",
    "vary-strong",
    "zoom-1.5",
    "zoom-2",
    "square",
    "pan-left",
    "reroll",
)


def done(message: Message | None) -> bool:
    return message is not None and bool(message.attachments)


async def main(rounds: int) -> None:
    config = SandboxConfig(api_keys={KEY}, queued_seconds=QUEUED, processing_seconds=PROCESSING)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "DEFAULT_DAILY_LIMIT": "0",
            "DEFAULT_COOLDOWN_SECONDS": "0",
            "DEFAULT_JOBS_PER_MEMBER": "50",
            "EXPECTED_JOB_SECONDS": str(QUEUED + PROCESSING),
        }
        async with world(config, env) as (discord, sandbox, _port):
            discord.add_member("alice")
            times: dict[str, list[float]] = {action: [] for action in ACTIONS}
            for _ in range(rounds):
                start = time.monotonic()
                handle = await discord.invoke(
                    "flux", user="alice", options={"prompt": "a red boat", "aspect_ratio": "16:9"}
                )
                image = await handle.wait_original(done, timeout=60)
                times.setdefault("generate", []).append(time.monotonic() - start)
                for action in ACTIONS:
                    custom_id = next(c for c in image.custom_ids() if c.split(":")[1] == action)
                    start = time.monotonic()
                    click = await discord.click(image, custom_id, user="alice")
                    await click.wait_original(done, timeout=60)
                    times[action].append(time.monotonic() - start)
            charged = {job.id: job.cost for job in sandbox.jobs.values()}
        with sqlite3.connect(db) as connection:
            rows = connection.execute(
                "SELECT kind, source, apiframe_job_id, reserved_credits, credit_cost FROM jobs"
            ).fetchall()
    print(f"sandbox jobs take {QUEUED + PROCESSING:.1f} s; {rounds} rounds per action\n")
    print(f"{'action':<18} {'median s':>9} {'max s':>7} {'overhead':>9}")
    for action, values in sorted(times.items(), key=lambda item: item[0]):
        median = statistics.median(values)
        print(
            f"{action:<18} {median:>9.2f} {max(values):>7.2f} {median - QUEUED - PROCESSING:>8.2f}s"
        )
    print(f"\n{'kind / source':<28} {'reserved':>9} {'creditCost':>11} {'sandbox':>8}")
    seen: set[tuple[str, str]] = set()
    for kind, source, apiframe_id, reserved, cost in rows:
        if (kind, source) in seen:
            continue
        seen.add((kind, source))
        print(
            f"{kind + ' / ' + source:<28} {reserved!s:>9} {cost!s:>11}"
            f" {charged.get(apiframe_id, '?')!s:>8}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
