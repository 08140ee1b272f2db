"""The composition root: builds the long-lived services once and hands them to the bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import uuid
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import images
from bot.apiframe.client import ApiframeClient
from bot.apiframe.models import Job
from bot.config import Settings, SettingsError
from bot.jobs.driver import DriverConfig, JobDriver
from bot.jobs.service import JobService
from bot.jobs.webhook import WebhookReceiver, webhook_url
from bot.metrics import LoopLagMonitor, peak_rss_mb
from bot.moderation.policy import GuildPolicy, defaults_from
from bot.storage.db import Database
from bot.storage.guilds import GuildStore
from bot.storage.jobs import JobStore
from bot.storage.migrations import migrate
from bot.web import WebServer
from cogs.audit import AuditLog

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.meta", "cogs.flux", "cogs.admin")


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


class FluxTree(app_commands.CommandTree["FluxBot"]):
    """One error path for every command: a polite ephemeral reply, details only in the log."""

    async def on_error(
        self, interaction: discord.Interaction[FluxBot], error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.CheckFailure):
            message = str(error) or "You can't use this command here."
        else:
            error_id = uuid.uuid4().hex[:8]
            log.error(
                "command %s failed (error id %s)",
                interaction.command.qualified_name if interaction.command else "?",
                error_id,
                exc_info=error,
            )
            message = f"Sorry, something went wrong on my side (error id `{error_id}`)."
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True)
            else:
                await interaction.response.send_message(message, ephemeral=True)


class FluxBot(commands.Bot):
    """The bot: Discord on the outside, the job core on the inside."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database,
        client: ApiframeClient,
        owner: str | None = None,
    ) -> None:
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
            shard_id=settings.shard_id,
            shard_count=settings.shard_count,
            # Prompts are user text: nothing the bot posts may ping anyone unless it says so.
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings
        self.db = db
        self.apiframe = client
        self.store = JobStore(db)
        self.guild_store = GuildStore(db)
        self.policy_defaults = defaults_from(settings)
        self.owner_name = owner or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        api_key = settings.secret("apiframe_api_key")
        public = settings.webhook_public_url
        self.webhook_url = webhook_url(public, api_key) if public else None
        self.driver: JobDriver | None = None
        self.jobs = JobService(self.guild_store, self.store, self._wake_driver)
        self.web = WebServer(settings.web_host, settings.web_port, self.health)
        self.webhooks = WebhookReceiver(api_key, self._on_webhook)
        self.webhooks.install(self.web.app)
        self.synced = asyncio.Event()
        self.lag = LoopLagMonitor()
        self.audit = AuditLog(self, settings.audit_flush_seconds)

    async def guild_policy(self, guild_id: int | None) -> GuildPolicy:
        """The moderation policy in force in a guild (the settings' defaults in DMs)."""
        if not guild_id:
            return self.policy_defaults
        return await self.guild_store.policy(guild_id, self.policy_defaults)

    def _wake_driver(self) -> None:
        if self.driver is not None:
            self.driver.wake()

    async def _on_webhook(self, remote: Job, event: str) -> None:
        job = await self.store.get_by_apiframe_id(remote.id)
        if job is None or self.driver is None:
            return
        await self.driver.apply_webhook(job, remote)

    async def health(self) -> dict[str, Any]:
        """Fit to serve when connected to Discord and the job loop runs."""
        driver_ok = self.driver is not None and self.driver.running
        return {
            "ok": self.is_ready() and not self.is_closed() and driver_ok,
            "discord": "ready" if self.is_ready() else "connecting",
            "jobs": "running" if driver_ok else "stopped",
            "latency_ms": round(self.latency * 1000) if self.is_ready() else None,
            "loop_lag_p99_ms": self.lag.p99_ms(),
            "peak_rss_mb": peak_rss_mb(),
            "jobs_in_flight": await self.store.count_in({"submitting", "queued", "processing"}),
        }

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        from cogs.flux._presenter import DiscordPresenter

        self.driver = JobDriver(
            self.store,
            self.apiframe,
            DiscordPresenter(self),
            DriverConfig(
                max_in_flight=self.settings.max_jobs_in_flight,
                max_in_flight_per_member=self.settings.max_jobs_in_flight_per_member,
                poll_rate=self.settings.poll_rate,
                soft_timeout=self.settings.job_soft_timeout,
                hard_timeout=self.settings.job_hard_timeout,
                progress_interval=self.settings.progress_interval,
                expected_seconds=self.settings.expected_job_seconds,
                webhook_safety_seconds=self.settings.webhook_safety_poll,
                lease_seconds=self.settings.job_lease_seconds,
                webhook_url=self.webhook_url,
            ),
            owner=self.owner_name,
        )
        await images.warm_up()
        await self.web.start()
        self.lag.start()
        self.driver.start()
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
        if self.driver is not None:
            await self.driver.stop()
        await self.webhooks.drain()
        await self.audit.close()
        await self.lag.stop()
        await self.web.stop()
        await super().close()


LOGIN_TIMEOUT = 60.0  # seconds for logging in and the start-up work done then


class StartupError(Exception):
    """The bot could not start for a reason outside its settings (the network, Discord)."""


async def run_bot(settings: Settings) -> None:
    """Start everything, run until SIGINT/SIGTERM, then shut down in reverse order."""
    configure_discord_endpoints(settings)
    await migrate(settings.database_url)
    db = Database(settings.database_url)
    client = ApiframeClient(
        settings.secret("apiframe_api_key"),
        settings.apiframe_base_url,
        timeout=settings.apiframe_timeout,
        max_download_bytes=settings.apiframe_max_download_mb * 2**20,
    )
    bot = FluxBot(settings, db=db, client=client)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    logged_in = False
    closing: list[asyncio.Task[None]] = []  # kept, so the task is not collected mid-way

    def stop() -> None:
        stopping.set()
        closing.append(asyncio.create_task(bot.close()))

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop)
    try:
        async with bot:
            # start() is login() then connect(); a Discord (or proxy) that accepts the
            # connection but never answers would otherwise hold login() for minutes.
            async with asyncio.timeout(LOGIN_TIMEOUT):
                await bot.login(settings.secret("discord_token"))
            logged_in = True
            await bot.connect()
    except (aiohttp.ClientError, OSError, TimeoutError, discord.HTTPException) as exc:
        if stopping.is_set():
            return  # Ctrl-C or SIGTERM while still connecting: a clean stop
        where = settings.discord_api_base_url or "Discord"
        if isinstance(exc, discord.HTTPException):
            when = "while connected" if logged_in else "while logging in"
            raise StartupError(f"{where} answered {exc.status} {when}") from None
        kind = "no answer in time" if isinstance(exc, TimeoutError) else type(exc).__name__
        raise StartupError(
            f"cannot reach {where} ({kind}); check the network, or DISCORD_API_BASE_URL"
        ) from None
    except discord.LoginFailure:
        raise SettingsError(
            ["DISCORD_TOKEN: Discord refused this token; reset it in the developer portal"]
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise SettingsError(["the bot asked for a privileged intent it was not granted"]) from None
    finally:
        await client.close()
        await db.dispose()
