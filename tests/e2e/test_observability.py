"""Watching the bot as a service: /metrics scraped while /flux runs through the local Discord
and the Apiframe sandbox."""

from __future__ import annotations

import asyncio

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ApiframeSandbox, RunningBot
from tests.discord_standin import LocalDiscord
from tests.e2e.test_flux import done

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over every series whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


async def test_metrics_move_while_a_flux_runs(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Scraped before, during and after one /flux (with one 429 from Discord on the way):
    the job, queue, credit, Apiframe, Discord, loop-lag and memory families all move."""
    apiframe.sandbox.config.processing_seconds = 2.0
    bot = await bot_runner.start()
    url = f"http://127.0.0.1:{bot.web.port}/metrics"
    before = await scrape(url)
    discord_standin.server.inject_429["/api/v10/webhooks/"] = 1
    handle = await discord_standin.invoke("flux", options={"prompt": "a counted fox"})
    await discord_standin.wait_for(lambda: bool(apiframe.sandbox.requests), timeout=15)
    during = await scrape(url)
    running = sum(
        total(during, "flux_jobs", state=s) for s in ("submitting", "queued", "processing")
    )
    assert running == 1
    assert (await handle.wait_original(done, timeout=30)).attachments
    async with asyncio.timeout(10):  # the delivery is recorded just after the post lands
        while total(after := await scrape(url), "flux_jobs_finished_total", state="delivered") < 1:
            await asyncio.sleep(0.05)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("flux_jobs_created_total", kind="generate") == 1
    assert moved("flux_jobs_finished_total", kind="generate", state="delivered") == 1
    assert total(after, "flux_jobs") == 0
    assert total(after, "flux_queue_length") == 0
    assert moved("flux_queue_wait_seconds_count") == 1
    assert moved("flux_time_to_image_seconds_count", kind="generate") == 1
    assert 2.0 < moved("flux_time_to_image_seconds_sum") < 30
    assert moved("flux_completion_to_posted_seconds_count") == 1
    assert moved("flux_credits_reserved_total") == 7  # 1 MP, the default price
    assert moved("flux_credits_spent_total") == apiframe.sandbox.config.cost_first_mp
    assert moved("flux_apiframe_requests_total", operation="submit", status="202") == 1
    assert moved("flux_apiframe_requests_total", operation="get_job", status="200") >= 1
    assert moved("flux_apiframe_requests_total", operation="download", status="200") == 1
    assert moved("flux_discord_responses_total", status="2xx") >= 3  # ack, progress, image
    assert moved("flux_discord_responses_total", status="429") == 1
    assert moved("flux_event_loop_lag_seconds_count") > 0
    assert total(after, "process_resident_memory_bytes") > 10 * 2**20
    assert total(after, "flux_peak_resident_memory_bytes") > 10 * 2**20
