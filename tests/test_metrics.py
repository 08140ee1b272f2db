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


def test_each_metrics_has_its_own_registry() -> None:
    """Two bots in one process (the tests, two shards) each export their own figures."""
    from bot.metrics import Metrics

    first, second = Metrics(), Metrics()
    first.discord_response(429)
    assert first.registry.get_sample_value("flux_discord_responses_total", {"status": "429"}) == 1
    assert second.registry.get_sample_value("flux_discord_responses_total", {"status": "429"}) == 0
    assert "flux_jobs_created_total" in second.family_names()
    assert "process_resident_memory_bytes" in second.family_names()


async def test_loop_lag_is_observed_into_the_histogram() -> None:
    """Every lag sample lands in the histogram as well as in /healthz's window."""
    from bot.metrics import Metrics

    metrics = Metrics()
    monitor = LoopLagMonitor(interval=0.01, observe=metrics.loop_lag.observe)
    monitor.start()
    await asyncio.sleep(0.03)
    time.sleep(0.1)  # noqa: ASYNC251 - blocking on purpose
    await asyncio.sleep(0.03)
    await monitor.stop()
    count = metrics.registry.get_sample_value("flux_event_loop_lag_seconds_count")
    assert count == len(monitor.samples) >= 3
    assert (monitor.max_ms() or 0) >= 80
    fast = metrics.registry.get_sample_value("flux_event_loop_lag_seconds_bucket", {"le": "0.05"})
    assert fast is not None
    assert fast < count  # the 100 ms stall is above the 50 ms bucket


async def test_rest_trace_counts_discord_answers_by_class() -> None:
    """Answers under /api/ count by class, 401/403/429 on their own; the CDN is left out."""
    from aiohttp import ClientSession, web
    from aiohttp.test_utils import TestServer

    from bot.metrics import Metrics, rest_trace

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["status"]))

    app = web.Application()
    app.router.add_get("/api/v10/{status}", answer)
    app.router.add_get("/cdn/{status}", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    metrics = Metrics()
    try:
        async with ClientSession(trace_configs=[rest_trace(metrics)]) as session:
            for path in ("api/v10/200", "api/v10/204", "api/v10/429", "api/v10/403",
                         "api/v10/404", "api/v10/502", "cdn/403"):  # fmt: skip
                async with session.get(server.make_url(f"/{path}")):
                    pass
    finally:
        await server.close()
    counts = {
        s.labels["status"]: s.value
        for family in metrics.registry.collect()
        if family.name == "flux_discord_responses"
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert counts == {"2xx": 2, "401": 0, "403": 1, "429": 1, "4xx": 1, "5xx": 1}


async def test_the_web_server_serves_metrics_in_prometheus_format() -> None:
    """GET /metrics answers the page in Prometheus's text format."""
    from aiohttp import ClientSession
    from prometheus_client.parser import text_string_to_metric_families

    from bot.metrics import Metrics
    from bot.web import WebServer

    metrics = Metrics()

    async def health() -> dict[str, object]:
        return {"ok": True}

    async def page() -> bytes:
        return metrics.render()

    web = WebServer("127.0.0.1", 0, health, page)
    await web.start()
    try:
        url = f"http://127.0.0.1:{web.port}/metrics"
        async with ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = await response.text()
    finally:
        await web.stop()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"flux_jobs_created", "flux_discord_responses", "flux_event_loop_lag_seconds"} <= names
