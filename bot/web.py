"""The bot's small HTTP server: `GET /healthz`, `GET /metrics` (Prometheus); the webhook
receiver (`bot.jobs.webhook`) adds its route to the same app."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.metrics import CONTENT_TYPE

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[dict[str, Any]]]
MetricsPage = Callable[[], Awaitable[bytes]]


class WebServer:
    """An aiohttp server the bot owns; `health` reports whether the process is fit to serve."""

    def __init__(
        self, host: str, port: int, health: HealthCheck, metrics: MetricsPage | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.app = web.Application(client_max_size=2 * 2**20)
        self.app.router.add_get("/healthz", self._healthz)
        self._health = health
        if metrics is not None:
            page = metrics

            async def _metrics(request: web.Request) -> web.Response:
                return web.Response(body=await page(), headers={"Content-Type": CONTENT_TYPE})

            self.app.router.add_get("/metrics", _metrics)
        self._runner: web.AppRunner | None = None

    async def _healthz(self, request: web.Request) -> web.Response:
        report = await self._health()
        status = 200 if report.get("ok") else 503
        return web.json_response(report, status=status)

    async def start(self) -> None:
        """Listen; with port 0 the chosen port is stored in `self.port`."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]
        log.info("web server listening on http://%s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
