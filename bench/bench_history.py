"""Benchmark of members' history and forget-me on a busy database. Prints figures.

    uv run python bench/bench_history.py [--samples 500] [--postgres URL]

Fills 100,000 jobs made by 1,000 members over 120 days in one server (one member has 1,000 of
them, the others about 99 each; nine in ten delivered), then times:
1. `/flux-history`'s query: a random page of a random member, plain, by kind, by a word
   (p50 / p95 / max; the target is a p95 under 50 ms on SQLite);
2. `/flux-forget-me` for the member with 1,000 jobs;
3. the HISTORY_DAYS purge of everything older than 90 days (a quarter of the jobs).
SQLite always, in a temporary file; PostgreSQL too with `--postgres` (or FLUX_TEST_POSTGRES_URL),
in a schema of its own that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.storage.db import Database, normalize_url  # noqa: E402
from bot.storage.history import HistoryStore  # noqa: E402
from bot.storage.migrations import migrate  # noqa: E402
from bot.storage.models import JobRow  # noqa: E402

JOBS, MEMBERS, HEAVY_JOBS = 100_000, 1_000, 1_000
GUILD, HEAVY = 1_000_000, 1
DAYS = 120
NOW = datetime.now(UTC)
WORDS = ["lighthouse", "storm", "fox", "harbour", "lantern", "garden", "kite", "boat", "castle",
         "forest", "neon", "portrait"]  # fmt: skip
KINDS = ["generate"] * 8 + ["upscale", "outpaint"]
BATCH = 5_000


def _request(kind: str, rng: random.Random) -> dict[str, Any]:
    seed = rng.randint(0, 2**40)
    if kind == "upscale":
        return {"kind": "upscale", "image": "https://cdn.example/in.png", "seed": seed}
    if kind == "outpaint":
        return {"kind": "outpaint", "image": "https://cdn.example/in.png", "seed": seed,
                "preset": "Zoom out 2x"}  # fmt: skip
    references = ["https://cdn.example/ref.png"] if rng.random() < 0.2 else []
    return {"kind": "generate", "resolution": "1MP", "aspect_ratio": "16:9", "seed": seed,
            "references": references}  # fmt: skip


def _rows(rng: random.Random) -> list[dict[str, Any]]:
    owners = [HEAVY] * HEAVY_JOBS + [
        2 + rng.randrange(MEMBERS - 1) for _ in range(JOBS - HEAVY_JOBS)
    ]
    rows = []
    for user_id in owners:
        job_id = str(uuid.uuid4())
        kind = rng.choice(KINDS)
        created = NOW - timedelta(seconds=rng.uniform(0, DAYS * 86_400))
        state = "delivered" if rng.random() < 0.9 else rng.choice(["failed", "cancelled"])
        urls = [f"https://cdn.example/{job_id}.png"] if state == "delivered" else []
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))
        rows.append(
            {
                "id": job_id,
                "idempotency_key": f"bench-{job_id}",
                "state": state,
                "guild_id": GUILD,
                "channel_id": 5,
                "user_id": user_id,
                "application_id": 6,
                "private": rng.random() < 0.2,
                "prompt": prompt,
                "request": _request(kind, rng),
                "kind": kind,
                "source": "command",
                "result_urls": urls,
                "credit_cost": 7,
                "response_message_id": rng.randint(1, 2**60),
                "created_at": created,
                "updated_at": created,
                "completed_at": created + timedelta(seconds=20),
                "attempts": 1,
            }
        )
    return rows


def _figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"p50 {statistics.median(ordered):6.2f} ms  p95 {p95:6.2f} ms  max {ordered[-1]:6.2f} ms"


async def run(url: str, label: str, samples: int, engine_kwargs: dict[str, Any]) -> None:
    await migrate(url, **engine_kwargs)
    db = Database(url, **engine_kwargs)
    rng = random.Random(13)
    try:
        started = time.perf_counter()
        rows = _rows(rng)
        for start in range(0, len(rows), BATCH):
            async with db.session() as session:
                await session.execute(insert(JobRow), rows[start : start + BATCH])
        print(f"{label}: filled {JOBS:,} jobs for {MEMBERS:,} members"
              f" in {time.perf_counter() - started:.1f} s")  # fmt: skip
        history = HistoryStore(db)
        await history.page(GUILD, HEAVY)  # warm the connection and the caches
        cases = {
            "page": {},
            "page, kind": {"kind": "upscale"},
            "page, word": {"word": "lantern"},
        }
        for name, filters in cases.items():
            times = []
            for _ in range(samples):
                member = HEAVY if rng.random() < 0.1 else 2 + rng.randrange(MEMBERS - 1)
                began = time.perf_counter()
                await history.page(GUILD, member, page=rng.randrange(20), **filters)
                times.append((time.perf_counter() - began) * 1000)
            print(f"  history {name:<11} {_figures(times)}  ({samples} pages)")
        began = time.perf_counter()
        done = await history.forget(HEAVY, NOW)
        took = (time.perf_counter() - began) * 1000
        print(f"  forget-me: {done.jobs:,} jobs of one member scrubbed in {took:.0f} ms")
        began = time.perf_counter()
        purged = await history.purge(NOW - timedelta(days=90))
        print(f"  purge past 90 days: {purged:,} jobs in {time.perf_counter() - began:.1f} s")
    finally:
        await db.dispose()


async def main(samples: int, postgres: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite+aiosqlite:///{tmp}/bench.db", "SQLite", samples, {})
    if postgres:
        import asyncpg

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        raw = normalize_url(postgres).replace("postgresql+asyncpg://", "postgresql://")
        admin = await asyncpg.connect(raw)
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            kwargs = {"connect_args": {"server_settings": {"search_path": schema}}}
            await run(postgres, "PostgreSQL", samples, kwargs)
        finally:
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--postgres", default=os.environ.get("FLUX_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    asyncio.run(main(args.samples, args.postgres))
