"""The error path's last resort, as logic: when the interaction can no longer be answered, the
member still hears of it in the channel, and only they are pinged."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import discord

from cogs import _errors


class Channel(discord.abc.Messageable):
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    async def _get_channel(self) -> Any:  # pragma: no cover - not used by send() below
        return self

    async def send(self, content: str, **kwargs: Any) -> Any:  # type: ignore[override]
        self.sent.append((content, kwargs.get("allowed_mentions")))


class ExpiredResponse:
    def is_done(self) -> bool:
        return False

    async def send_message(self, *args: Any, **kwargs: Any) -> None:
        response = SimpleNamespace(status=404, reason="Not Found")
        raise discord.NotFound(response, {"code": 10062, "message": "Unknown interaction"})  # type: ignore[arg-type]


async def test_an_expired_interaction_is_answered_in_the_channel() -> None:
    channel = Channel()
    member = SimpleNamespace(id=42, mention="<@42>")
    interaction: Any = SimpleNamespace(response=ExpiredResponse(), channel=channel, user=member)
    await _errors.answer(interaction, "Sorry (error id `abcd1234`).")
    [(content, mentions)] = channel.sent
    assert content == "<@42> Sorry (error id `abcd1234`)."
    assert mentions.users == [member]
    assert mentions.everyone is False


async def test_a_command_from_a_dm_is_refused_politely() -> None:
    """Should a stale registration still offer a command in a DM, the tree refuses it with a
    message for the member (a check failure: no error id, nothing to log)."""
    import pytest
    from discord import app_commands

    from app.bot import SERVERS_ONLY, FluxTree

    interaction: Any = SimpleNamespace(guild_id=None, locale="en-US")
    with pytest.raises(app_commands.NoPrivateMessage, match=str(SERVERS_ONLY)):
        await FluxTree.interaction_check(None, interaction)  # type: ignore[arg-type]
    interaction.locale = "de"  # in the member's language
    with pytest.raises(app_commands.NoPrivateMessage, match="Ich funktioniere nur auf Servern"):
        await FluxTree.interaction_check(None, interaction)  # type: ignore[arg-type]
    assert await FluxTree.interaction_check(None, SimpleNamespace(guild_id=1))  # type: ignore[arg-type]
