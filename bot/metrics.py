"""Process figures for the health endpoint: event-loop lag and memory."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import statistics
import sys
import time
from collections import deque
from pathlib import Path


class LoopLagMonitor:
    """Measures how late the event loop wakes a 50 ms timer; a blocked loop shows up here."""

    def __init__(self, interval: float = 0.05, keep: int = 1200) -> None:
        self.interval = interval
        self.samples: deque[float] = deque(maxlen=keep)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.samples.append(max(0.0, time.perf_counter() - start - self.interval))

    def p99_ms(self) -> float | None:
        if len(self.samples) < 2:
            return None
        return round(statistics.quantiles(self.samples, n=100)[98] * 1000, 2)


def peak_rss_mb() -> float:
    """The process's peak resident memory in MiB."""
    status = Path("/proc/self/status")
    if status.exists():
        # VmHWM starts afresh at exec; ru_maxrss may carry the parent's peak across it.
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)
