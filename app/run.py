"""The composition root: settings → the core's services → the bot with its Discord-side parts.

`build_bot` is the one place the bot is put together, for `flux-bot run` and the tests alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import aiohttp
import discord

from app.bot import FluxBot, configure_discord_endpoints
from bot.config import Settings, SettingsError
from bot.services import open_services
from bot.storage.db import describe_url
from cogs.audit import AuditLog
from cogs.flux._presenter import DiscordPresenter

log = logging.getLogger(__name__)


async def build_bot(settings: Settings, *, owner: str | None = None) -> FluxBot:
    """Point discord.py at the configured endpoints, open the services, build the bot."""
    configure_discord_endpoints(settings)
    try:
        services = await open_services(settings)
    except Exception as exc:  # unreachable, refused, a newer revision...: one line
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no details"
        raise StartupError(
            f"cannot open the database {describe_url(settings.database_url)}:"
            f" {type(exc).__name__}: {detail}"
        ) from None
    return FluxBot(
        services,
        audit=lambda bot: AuditLog(bot, settings.audit_flush_seconds),
        presenter=DiscordPresenter,
        owner=owner,
    )


LOGIN_TIMEOUT = 60.0  # seconds for logging in and the start-up work done then


class StartupError(Exception):
    """The bot could not start for a reason outside its settings (the network, Discord)."""


async def run_bot(settings: Settings) -> None:
    """Start everything, run until SIGINT/SIGTERM, then shut down in reverse order."""
    bot = await build_bot(settings)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    logged_in = False
    closing: list[asyncio.Task[None]] = []  # kept, so the task is not collected mid-way

    def stop() -> None:
        if stopping.is_set():
            # A second signal (or the same one again: `uv run` and systemd pass on to the bot
            # what the whole process group already got) hurries the stop, never kills it.
            log.info("already stopping: not waiting for the steps under way any longer")
            bot.driver.hurry()
            return
        stopping.set()
        log.info("stopping: finishing the steps under way (up to 5 s)")
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
        await bot.services.close()
        # Stopped cleanly: a signal still on its way must not turn exit 0 into 130 or 143
        # (closing the loop would put back the default handlers, which kill the process).
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, ValueError):
                loop.remove_signal_handler(sig)
                signal.signal(sig, signal.SIG_IGN)
