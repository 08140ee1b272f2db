"""The bot connects to the local Discord, syncs its commands and answers a member."""

from __future__ import annotations

import pytest

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
    """`python -m bot run` starts against the stand-in and answers a command."""
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
