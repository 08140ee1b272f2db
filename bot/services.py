"""The one wiring of the core: settings in, the long-lived services out.

The bot, the CLI and the test fixtures all build their database, stores, Apiframe client and job
driver here, so each is configured from the settings in exactly one place.
"""

from __future__ import annotations

import logging
import socket
import uuid
from dataclasses import dataclass, field

from bot import images
from bot.apiframe.client import ApiframeClient
from bot.apiframe.errors import ApiframeError
from bot.config import Settings
from bot.jobs.cost import Prices, prices_from
from bot.jobs.driver import DriverConfig, JobDriver
from bot.jobs.presenter import Presenter
from bot.jobs.webhook import webhook_url
from bot.metrics import Metrics
from bot.storage.db import Database
from bot.storage.guilds import GuildStore
from bot.storage.jobs import JobRecord, JobStore
from bot.storage.migrations import migrate

log = logging.getLogger(__name__)

OWNER_HOST_CHARS = 24  # leases are String(64): the owner, plus ":inbox:<interaction id>"


def process_owner(hostname: str | None = None) -> str:
    """This process's name on the leases it takes: its host (cut short: Kubernetes pod names
    run to 63 characters) and a random part, unique per process."""
    host = (hostname if hostname is not None else socket.gethostname())[:OWNER_HOST_CHARS]
    return f"{host}-{uuid.uuid4().hex[:8]}"


def apiframe_client(settings: Settings, metrics: Metrics | None = None) -> ApiframeClient:
    """A client for the configured Apiframe (key, base URL, timeout, download cap), counting
    its requests in `metrics` when given."""
    return ApiframeClient(
        settings.secret("apiframe_api_key"),
        settings.apiframe_base_url,
        timeout=settings.apiframe_timeout,
        max_download_bytes=settings.apiframe_max_download_mb * 2**20,
        counter=metrics,
    )


def driver_config(settings: Settings) -> DriverConfig:
    """The job loop's knobs, from the settings."""
    public = settings.webhook_public_url
    return DriverConfig(
        max_in_flight=settings.max_jobs_in_flight,
        max_in_flight_per_member=settings.max_jobs_in_flight_per_member,
        poll_rate=settings.poll_rate,
        soft_timeout=settings.job_soft_timeout,
        hard_timeout=settings.job_hard_timeout,
        progress_interval=settings.progress_interval,
        expected_seconds=settings.expected_job_seconds,
        webhook_safety_seconds=settings.webhook_safety_poll,
        lease_seconds=settings.job_lease_seconds,
        webhook_url=webhook_url(public, settings.secret("apiframe_api_key")) if public else None,
    )


@dataclass
class Services:
    """What one process holds for its lifetime; `close()` releases it."""

    settings: Settings
    db: Database
    jobs: JobStore
    guilds: GuildStore
    apiframe: ApiframeClient
    prices: Prices = field(default_factory=Prices)  # what a job reserves, per kind
    metrics: Metrics = field(default_factory=Metrics)  # this process's own /metrics

    async def load_prices(self) -> Prices:
        """The prices to reserve: the settings, with flat prices from Apiframe's public
        catalogue where the operator set none. Without the catalogue, the settings alone."""
        try:
            catalogue = await self.apiframe.models()
        except ApiframeError as exc:
            log.info("price catalogue unavailable (%s); using the CREDITS_* settings", exc)
            catalogue = []
        self.prices = prices_from(self.settings, catalogue)
        log.info(
            "reserving %d credits per outpaint, %d per creative upscale",
            self.prices.outpaint,
            self.prices.upscale_creative,
        )
        return self.prices

    def driver(self, presenter: Presenter, *, owner: str) -> JobDriver:
        """The job loop, showing job events through `presenter`, leasing jobs as `owner`."""
        return JobDriver(
            self.jobs, self.apiframe, presenter, driver_config(self.settings), owner=owner
        )

    async def fetch_image(self, job: JobRecord, limit: int) -> images.FittedImage:
        """Download and fit a finished job's image again (e.g. for /flux-inbox)."""
        downloaded = await self.apiframe.download(job.result_urls[0])
        return await images.fit_async(downloaded.data, limit)

    async def metrics_page(self) -> bytes:
        """/metrics: the families, with the database's job counts read afresh."""
        await self.metrics.refresh(self.jobs)
        return self.metrics.render()

    async def close(self) -> None:
        await self.apiframe.close()
        await self.db.dispose()


async def open_services(settings: Settings) -> Services:
    """Migrate the database, then open it and the Apiframe client, both reporting to this
    process's metrics."""
    await migrate(settings.database_url)
    db = Database(settings.database_url)
    metrics = Metrics()
    return Services(
        settings=settings,
        db=db,
        jobs=JobStore(db, events=metrics),
        guilds=GuildStore(db),
        apiframe=apiframe_client(settings, metrics),
        prices=prices_from(settings),
        metrics=metrics,
    )
