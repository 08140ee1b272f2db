"""Process figures reported on /healthz."""

from __future__ import annotations

import asyncio
import time

from bot.metrics import LoopLagMonitor, peak_rss_mb


def test_peak_rss_is_plausible() -> None:
    """The peak resident memory is a positive figure in MiB, not bytes or pages."""
    assert 5 < peak_rss_mb() < 4096


async def test_loop_lag_monitor_sees_a_blocked_loop() -> None:
    """Blocking the event loop for 200 ms shows up in the lag figure."""
    monitor = LoopLagMonitor(interval=0.01)
    monitor.start()
    await asyncio.sleep(0.05)
    time.sleep(0.2)  # noqa: ASYNC251 - blocking on purpose
    await asyncio.sleep(0.05)
    await monitor.stop()
    assert max(monitor.samples) >= 0.15
    assert monitor.p99_ms() is not None
