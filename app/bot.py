"""The bot: Discord on the outside, the core's services (`bot.services`) on the inside."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import i18n, images
from bot.apiframe.models import Job
from bot.config import Settings
from bot.i18n import t
from bot.jobs.presenter import Presenter
from bot.jobs.service import JobService
from bot.jobs.webhook import WebhookReceiver
from bot.logs import for_job
from bot.metrics import LoopLagMonitor, peak_rss_mb, rest_trace
from bot.moderation import lookalikes
from bot.moderation.policy import GuildPolicy, defaults_from
from bot.retention import Retention
from bot.services import Services, process_owner
from bot.web import WebServer
from cogs import _errors as errors
from cogs.i18n import CatalogTranslator

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.meta", "cogs.flux", "cogs.admin", "cogs.usage", "cogs.corner")


def configure_discord_endpoints(settings: Settings) -> None:
    """Point discord.py at a REST proxy or gateway other than Discord's own.

    `DISCORD_API_BASE_URL` is the full REST base including the version
    (e.g. `http://nirn:8080/api/v10`); interaction webhooks are built from it too.
    """
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    Route.BASE = settings.discord_api_base_url or "https://discord.com/api/v10"
    gateway = settings.discord_gateway_url or "wss://gateway.discord.gg/"
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)


WRITE_PROBE_SECONDS = 10.0  # /healthz writes (and rolls back) a row at most this often
SERVERS_ONLY = t("I only work in servers: use my commands in a server we are both in.")


class FluxTree(app_commands.CommandTree["FluxBot"]):
    """Commands and context menus take the one error path of every interaction."""

    async def interaction_check(self, interaction: discord.Interaction[FluxBot]) -> bool:
        # Discord only offers the commands in servers; this covers a stale registration.
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage(i18n.render(SERVERS_ONLY, interaction.locale))
        return True

    async def on_error(
        self, interaction: discord.Interaction[FluxBot], error: app_commands.AppCommandError
    ) -> None:
        await errors.report(interaction, error)


class AuditSink(Protocol):
    """Where audit entries go (the audit-log channel); built by the composition root."""

    async def record(
        self, guild_id: int | None, entry: discord.Embed | Callable[[str], discord.Embed]
    ) -> None: ...

    async def close(self) -> None: ...


class FluxBot(commands.Bot):
    """The bot: Discord on the outside, the job core on the inside."""

    def __init__(
        self,
        services: Services,
        *,
        audit: Callable[[FluxBot], AuditSink],
        presenter: Callable[[FluxBot], Presenter],
        owner: str | None = None,
    ) -> None:
        settings = services.settings
        intents = discord.Intents.none()
        intents.guilds = True
        # The bot never joins voice: the start-up warnings about voice libraries are noise.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=FluxTree,
            help_command=None,
            max_ratelimit_timeout=60,
            # Servers only: a server's rules (bans, quotas, budget) cannot reach a DM, and a
            # user install would open the bot to servers it was never added to.
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=False, private_channel=False
            ),
            allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
            shard_id=settings.shard_id,
            shard_count=settings.shard_count,
            # Prompts are user text: nothing the bot posts may ping anyone unless it says so.
            allowed_mentions=discord.AllowedMentions.none(),
            # Counts Discord's answers for /metrics: 401/403/429 lead to Discord's IP ban.
            http_trace=rest_trace(services.metrics),
        )
        self.services = services
        self.settings = settings
        self.store = services.jobs
        self.guild_store = services.guilds
        self.policy_defaults = defaults_from(settings)
        self.owner_name = owner or process_owner()
        self.driver = services.driver(presenter(self), owner=self.owner_name)
        self.jobs = JobService(self.guild_store, self.store, self.driver.wake)
        self.web = WebServer(
            settings.web_host, settings.web_port, self.health, services.metrics_page
        )
        self.webhooks = WebhookReceiver(settings.secret("apiframe_api_key"), self._on_webhook)
        self.webhooks.install(self.web.app)
        self.synced = asyncio.Event()
        self.lag = LoopLagMonitor(observe=services.metrics.loop_lag.observe)
        self.retention = Retention(services.history, settings.history_days)
        self._probed_at = -WRITE_PROBE_SECONDS
        self._database: str | None = None
        self.audit = audit(self)

    async def guild_policy(self, guild_id: int | None) -> GuildPolicy:
        """The moderation policy in force in a guild (the settings' defaults in DMs)."""
        if not guild_id:
            return self.policy_defaults
        return await self.guild_store.policy(guild_id, self.policy_defaults)

    async def _on_webhook(self, remote: Job, event: str) -> None:
        job = await self.store.get_by_apiframe_id(remote.id)
        if job is None:
            return
        # Its own context, so the lines it logs name the job (as the driver's steps do).
        await asyncio.create_task(self.driver.apply_webhook(job, remote), context=for_job(job))

    async def health(self) -> dict[str, Any]:
        """Fit to serve when connected to Discord and the job loop runs."""
        driver_ok = self.driver.running
        database = await self._database_problem()
        try:
            in_flight = await self.store.count_in({"submitting", "queued", "processing"})
        except Exception as exc:  # an outage: 503 with the reason, not a 500
            in_flight = None
            problem = f"cannot read the database ({type(exc).__name__})"  # i18n: not shown
            database = database or problem
        return {
            "ok": self.is_ready() and not self.is_closed() and driver_ok and database is None,
            "discord": "ready" if self.is_ready() else "connecting",
            "jobs": "running" if driver_ok else "stopped",
            "database": database or "ok",
            "latency_ms": round(self.latency * 1000) if self.is_ready() else None,
            "loop_lag_p99_ms": self.lag.p99_ms(),
            "loop_lag_max_ms": self.lag.max_ms(),
            "peak_rss_mb": peak_rss_mb(),
            "jobs_in_flight": in_flight,
        }

    async def _database_problem(self) -> str | None:
        """The write probe's answer, asked at most every WRITE_PROBE_SECONDS."""
        now = time.monotonic()
        if now - self._probed_at >= WRITE_PROBE_SECONDS:
            self._probed_at = now
            self._database = await self.guild_store.write_problem()
        return self._database

    async def setup_hook(self) -> None:
        i18n.install(await asyncio.to_thread(i18n.Catalogs.load))  # the .po files, off the loop
        await self.tree.set_translator(CatalogTranslator())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await images.warm_up()
        await self.services.load_prices()
        await asyncio.to_thread(lookalikes.warm_up)  # not on the loop at the first prompt
        await self.web.start()
        self.lag.start()
        self.driver.start()
        self.retention.start()
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Register the commands: instantly in the configured guilds, else globally. With
        several shards only shard 0 does it; the others need not wait for it."""
        if self.settings.syncs_commands:
            if self.settings.discord_guild_ids:
                for guild_id in self.settings.discord_guild_ids:
                    guild = discord.Object(guild_id)
                    self.tree.copy_global_to(guild=guild)
                    await self.tree.sync(guild=guild)
            else:
                await self.tree.sync()
            log.info("application commands synced")
        self.synced.set()

    async def close(self) -> None:
        await self.retention.stop()
        await self.driver.stop()
        await self.webhooks.drain()
        await self.audit.close()
        await self.lag.stop()
        await self.web.stop()
        await super().close()
