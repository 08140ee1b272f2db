"""The `flux-bot` command: run (default), check, health, generate, upscale, outpaint, fetch,
sandbox, migrate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from app._common import EXIT_FAILURE, EXIT_SETTINGS, EXIT_USAGE, fail, log_secrets
from app.cli_images import add_image_commands
from bot.apiframe.errors import ApiframeError
from bot.config import Settings, SettingsError, load_settings
from bot.logs import setup_logging

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


# --- run ---------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    """Start the bot and keep it running until stopped."""
    settings = load_settings()
    settings.require("discord_token", "apiframe_api_key")
    setup_logging(settings.log_level, log_secrets(settings), settings.log_format)
    for line in settings.warnings:
        log.warning(line)
    from app.run import StartupError, run_bot  # imports discord.py: only when running

    try:
        asyncio.run(run_bot(settings))
    except StartupError as exc:
        return fail(str(exc))
    return 0


# --- check -------------------------------------------------------------------------------


async def _check(settings: Settings) -> list[tuple[str, bool, str]]:
    from bot.services import apiframe_client
    from bot.storage.db import describe_url
    from bot.storage.migrations import current_revision, head_revision

    results: list[tuple[str, bool, str]] = []
    try:
        revision = await current_revision(settings.database_url)
        where = describe_url(settings.database_url)
        if revision is not None and revision > head_revision():
            # Written by a newer version: this one must not run on it.
            detail = f"{where}: at revision {revision}, newer than this version ({head_revision()})"
            results.append(("database", False, detail))
        else:
            state = f"at revision {revision}" if revision else "reachable, not migrated yet"
            results.append(("database", True, f"{where}: {state}"))
    except Exception as exc:  # any driver error means "not reachable"; say which kind
        results.append(("database", False, f"cannot reach it ({type(exc).__name__})"))

    if problem := settings.problem("apiframe_api_key"):
        results.append(("apiframe", False, problem))
    else:
        async with apiframe_client(settings) as client:
            try:
                me = await client.me()
                team = me.get("team") or {}
                credits = team.get("credits")
                detail = f"key accepted; {credits} credits left" if credits is not None else ""
                results.append(("apiframe", True, detail or "key accepted"))
            except ApiframeError as exc:
                results.append(("apiframe", False, exc.message))

    if problem := settings.problem("discord_token"):
        results.append(("discord", False, problem))
    else:
        results.append(await _check_discord(settings))
    return results


async def _check_discord(settings: Settings) -> tuple[str, bool, str]:
    import aiohttp

    base = settings.discord_api_base_url or "https://discord.com/api/v10"
    headers = {"Authorization": f"Bot {settings.secret('discord_token')}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session,
            session.get(f"{base}/users/@me", headers=headers) as response,
        ):
            if response.status == 401:
                return ("discord", False, "the token was refused (401): reset it in the portal")
            if response.status != 200:
                return ("discord", False, f"unexpected answer {response.status}")
            user = await response.json()
            return ("discord", True, f"logged in as {user.get('username')} ({user.get('id')})")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return ("discord", False, f"cannot reach {base} ({type(exc).__name__})")


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the settings, then reach the database, Apiframe and Discord; one line each."""
    if args.settings_only:
        # What `run` refuses before connecting, and nothing else: docker-compose.yml runs this
        # once before the bot, so a .env still holding placeholders stops `up` with one line
        # per problem (exit 2) instead of a restart loop, and an outage stops nothing.
        load_settings().require("discord_token", "apiframe_api_key")
        print("settings  ok")
        return 0
    try:
        settings = load_settings()
    except SettingsError as exc:
        print("settings  FAIL")
        for problem in exc.problems:
            print(f"  {problem}")
        return EXIT_SETTINGS
    setup_logging("WARNING", log_secrets(settings), settings.log_format)
    print("settings  ok    loaded")
    results = asyncio.run(_check(settings))
    for name, ok, detail in results:
        print(f"{name:<9} {'ok' if ok else 'FAIL':<5} {detail}")
    return 0 if all(ok for _, ok, _ in results) else EXIT_FAILURE


# --- health ------------------------------------------------------------------------------


def cmd_health(args: argparse.Namespace) -> int:
    """Ask the running bot's `/healthz` (Docker's HEALTHCHECK): exit 0 when it is fit to serve.
    Reads WEB_HOST and WEB_PORT as the bot does, so an empty WEB_PORT means 8080 here too."""
    import json
    import urllib.error
    import urllib.request

    settings = load_settings()
    if settings.web_port == 0:
        return fail("WEB_PORT is 0 (any free port): there is no fixed port to ask")
    host = "127.0.0.1" if settings.web_host in ("", "0.0.0.0", "::") else settings.web_host  # noqa: S104
    url = f"http://{f'[{host}]' if ':' in host else host}:{settings.web_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout):
            print(f"ok    {url}")
            return 0
    except urllib.error.HTTPError as exc:
        try:
            report = json.loads(exc.read())
            detail = f"discord {report.get('discord')}, jobs {report.get('jobs')}"
        except ValueError:
            detail = exc.reason
        print(f"FAIL  {url}: {exc.code} ({detail})")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"FAIL  {url}: cannot reach it ({reason})")
    return EXIT_FAILURE


# --- sandbox -----------------------------------------------------------------------------


async def _serve_sandbox(host: str, port: int, key: str) -> int:
    from bot.apiframe.sandbox import SandboxConfig, serve

    try:
        runner, url = await serve(host, port, SandboxConfig(api_keys={key}))
    except OSError as exc:  # the port is taken, or the host is not this machine's
        # asyncio says "error while attempting to bind on address (...): address in use".
        reason = (exc.strerror or str(exc)).rsplit(": ", 1)[-1]
        return fail(f"cannot listen on {host}:{port}: {reason}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        # Its /_sandbox/ control routes have no authentication.
        print(f"warning: {host} is reachable from other machines; anyone there can control the"
              " sandbox through /_sandbox/", file=sys.stderr)  # fmt: skip
    print(f"Apiframe sandbox listening on {url}")
    print(f"  APIFRAME_BASE_URL={url}")
    print(f"  APIFRAME_API_KEY={key}")
    print("Press Ctrl+C to stop.", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve the local Apiframe sandbox (free, fake images) until stopped."""
    if not 0 <= args.port <= 65535:
        return fail(f"--port must be 0-65535 (0: any free port), not {args.port}", EXIT_USAGE)
    setup_logging("INFO")
    return asyncio.run(_serve_sandbox(args.host, args.port, args.key))


# --- migrate -----------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the database migrations."""
    from bot.storage.db import describe_url
    from bot.storage.migrations import current_revision, migrate

    settings = load_settings()
    setup_logging(settings.log_level, log_secrets(settings), settings.log_format)
    where = describe_url(settings.database_url)

    async def _run() -> str | None:
        await migrate(settings.database_url)
        return await current_revision(settings.database_url)

    try:
        revision = asyncio.run(_run())
    except Exception as exc:  # unreachable, refused, locked...: one line; LOG_LEVEL=DEBUG has more
        log.debug("migration failed", exc_info=True)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no details"
        return fail(f"cannot migrate {where}: {type(exc).__name__}: {detail}")
    print(f"{where} is at revision {revision}")
    return 0


# --- parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flux-bot",
        description="A self-hostable Discord bot for FLUX.2 [max] via Apiframe.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="start the bot (the default)").set_defaults(func=cmd_run)
    check = sub.add_parser("check", help="check settings, database, Apiframe and Discord")
    check.add_argument(
        "--settings-only",
        action="store_true",
        help="only validate the settings (placeholders too); reach nothing",
    )
    check.set_defaults(func=cmd_check)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    health = sub.add_parser("health", help="ask the running bot whether it is fit to serve")
    health.add_argument("--timeout", type=float, default=4.0, help="seconds (default 4)")
    health.set_defaults(func=cmd_health)

    sandbox = sub.add_parser("sandbox", help="serve a local fake Apiframe API for trying the bot")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8787)
    sandbox.add_argument("--key", default="afk_sandbox", help="the API key it accepts")
    sandbox.set_defaults(func=cmd_sandbox)

    add_image_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `flux-bot` and `python -m app`."""
    args = build_parser().parse_args(argv)
    func = getattr(args, "func", cmd_run)
    try:
        return int(func(args))
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_SETTINGS
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
