"""The bot connects to the local Discord, syncs its commands and answers a member."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands

from tests.conftest import BotProcess, RunningBot
from tests.discord_standin import LocalDiscord


async def test_in_process_bot_syncs_and_answers(bot: object, discord_standin: LocalDiscord) -> None:
    """/flux-help answers ephemerally; both commands are registered in the guild."""
    assert {"flux", "flux-help"} <= set(discord_standin.commands)
    handle = await discord_standin.invoke("flux-help", user="alice")
    reply = await handle.wait_original()
    assert reply.ephemeral
    assert "FLUX.2 [max]" in reply.embeds[0]["title"]
    assert discord_standin.server.identifies == 1


async def test_bot_process_starts_and_answers(
    bot_process: BotProcess, discord_standin: LocalDiscord
) -> None:
    """`python -m app run` starts against the stand-in and answers a command."""
    await bot_process.start()
    try:
        await discord_standin.wait_ready(timeout=30)
    except TimeoutError:
        pytest.fail("bot did not start:\n" + bot_process.output())
    handle = await discord_standin.invoke("flux-help", user="bob")
    await handle.wait_original()
    assert await bot_process.stop() == 0
    assert discord_standin.token not in bot_process.output()


async def test_restart_keeps_commands(
    bot_runner: RunningBot, discord_standin: LocalDiscord
) -> None:
    """Stopping and starting again re-identifies and keeps working."""
    await bot_runner.start()
    await bot_runner.stop()
    await bot_runner.start()
    handle = await discord_standin.invoke("flux-help")
    await handle.wait_original()
    assert discord_standin.server.identifies == 2


def command_paths(command: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """`/name`, and for groups every `/name group sub` path."""
    path = f"{prefix} {command['name']}".strip()
    children = [o for o in command.get("options", []) if o["type"] in (1, 2)]
    if not children:
        yield path
    for child in children:
        yield from command_paths(child, path)


async def test_readme_documents_every_synced_command(
    bot: object, discord_standin: LocalDiscord
) -> None:
    """Each command and subcommand the bot registers with Discord is in the README."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    documented = set(re.findall(r"`/?([a-z-]+(?: [a-z-]+)*)", readme))
    commands = discord_standin.commands.values()
    paths = [p for c in commands if c.get("type", 1) == 1 for p in command_paths(c)]
    assert len(paths) > 20
    missing = [c["name"] for c in commands if c.get("type") == 3 and c["name"] not in readme]
    for path in paths:
        name, _, sub = path.partition(" ")
        if name not in documented or (sub and sub not in documented):
            missing.append(path)
    assert not missing, missing


class Recorder(app_commands.Translator):
    """Records every string offered for translation, and translates none."""

    def __init__(self) -> None:
        self.offered: set[str] = set()

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        self.offered.add(string.message)
        return None


def shown_strings(payload: dict[str, Any]) -> Iterator[str]:
    """Every name, description and choice name a member sees in a command's payload."""
    yield payload["name"]
    if payload.get("description"):
        yield payload["description"]
    for choice in payload.get("choices", []):
        yield choice["name"]
    for option in payload.get("options", []):
        yield from shown_strings(option)


async def test_every_shown_string_reaches_a_translator(bot: Any) -> None:
    """Names, descriptions and choices are `locale_str`: a Translator can localize them all."""
    recorder = Recorder()
    shown: set[str] = set()
    for command in bot.tree.get_commands():
        payload = await command.get_translated_payload(bot.tree, recorder)
        shown.update(shown_strings(payload))
    assert {"flux", "prompt", "flux-admin", "channel", "allow", "max_resolution"} <= shown
    assert shown - recorder.offered == set()


DISCORD_LOCALES = {"de", "fr", "es-ES", "es-419", "pt-BR", "ja"}


def _options(command: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for option in command.get("options", []):
        yield option
        yield from _options(option)


async def test_commands_reach_discord_in_every_language_within_its_limits(
    bot: object, discord_standin: LocalDiscord
) -> None:
    """Every description reaches Discord in the five languages, options and choices are named
    in them where the word differs, slash command names stay English (the local Discord
    refuses a sync that breaks a limit in any language, so its violations stay empty)."""
    assert discord_standin.violations == []
    commands = list(discord_standin.commands.values())
    missing: list[str] = []
    renamed = choices = 0
    for command in commands:
        if command.get("type", 1) != 1:
            assert set(command.get("name_localizations") or {}) == DISCORD_LOCALES, command["name"]
            continue
        assert not command.get("name_localizations"), command["name"]
        for item in [command, *_options(command)]:
            # "…" is discord.py's stand-in for an option nobody described: no words to translate.
            described = item.get("description") not in (None, "", "…")
            if described and set(item.get("description_localizations") or {}) != DISCORD_LOCALES:
                missing.append(f"{command['name']} {item['name']}: {item.get('description')!r}")
            renamed += bool(item.get("name_localizations"))
            choices += sum(bool(c.get("name_localizations")) for c in item.get("choices", []))
    assert not missing, missing
    assert renamed > 20
    assert choices > 10
    flux = discord_standin.commands["flux"]
    assert flux["description_localizations"]["de"] != flux["description"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_a_repeated_stop_signal_still_stops_cleanly(
    bot_process: BotProcess, discord_standin: LocalDiscord, sig: signal.Signals
) -> None:
    """Ctrl-C under `uv run` (the terminal signals the whole group, and uv passes it on) or
    systemd's group SIGTERM reach the bot twice: it still stops cleanly, with exit 0."""
    await bot_process.start()
    await discord_standin.wait_ready(timeout=30)
    process = bot_process.process
    assert process is not None
    for _ in range(3):  # one at once, the others while it stops or once it has stopped
        process.send_signal(sig)
        await asyncio.sleep(0.05)
    async with asyncio.timeout(30):
        code = await process.wait()
    output = bot_process.output()
    assert code == 0, output
    assert "Traceback" not in output


async def test_every_command_is_for_servers_only(
    bot: object, discord_standin: LocalDiscord
) -> None:
    """A DM would escape every server's rules (bans, quotas, budget) and a user install would
    open the bot to servers it was never added to: commands are registered for server
    channels (context 0) of a server install (integration type 0) only."""
    assert discord_standin.commands
    for name, command in discord_standin.commands.items():
        assert command.get("contexts") == [0], name
        assert command.get("integration_types") == [0], name


async def test_healthz_says_when_the_database_cannot_serve(
    bot: Any, discord_standin: LocalDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 while all is well; 503 with the reason when the database takes no writes (read-only,
    full) or cannot be read at all (an outage answered 500 before)."""
    import aiohttp

    url = f"http://127.0.0.1:{bot.web.port}/healthz"
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(10):
            while not bot.is_ready():  # READY may come a moment after the commands synced
                await asyncio.sleep(0.02)
        async with session.get(url) as answer:
            report = await answer.json()
            assert (answer.status, report["ok"], report["database"]) == (200, True, "ok"), report

        async def read_only() -> str:
            return "cannot write to the database (OperationalError)"

        monkeypatch.setattr(bot.guild_store, "write_problem", read_only)
        bot._probed_at = float("-inf")  # the probe's answer is kept 10 s: ask again now
        async with session.get(url) as answer:
            report = await answer.json()
            assert answer.status == 503
            assert report["database"] == "cannot write to the database (OperationalError)"

        async def outage(*args: Any) -> int:
            raise OSError("connection refused")

        monkeypatch.setattr(bot.store, "count_in", outage)
        async with session.get(url) as answer:
            report = await answer.json()
            assert answer.status == 503
            assert report["jobs_in_flight"] is None
