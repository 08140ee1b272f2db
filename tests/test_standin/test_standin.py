"""The local Discord itself: it must refuse what real Discord refuses, or it proves nothing."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest

from tests.discord_standin import LocalDiscord
from tests.discord_standin.server import StandInConfig

COMMAND = {"name": "ping", "description": "Ping", "type": 1, "options": []}


@pytest.fixture
async def standin() -> AsyncIterator[LocalDiscord]:
    """A stand-in for tests that break rules on purpose; those that answer late shorten the
    deadline themselves (a 0.2 s deadline for all made a cold first validation flaky)."""
    local = LocalDiscord(StandInConfig(token_lifetime=60))
    await local.start()
    local.server.guild_commands[local.guild.id] = [
        {**COMMAND, "id": "1", "application_id": str(local.server.application_id)}
    ]
    yield local
    await local.stop()


@pytest.fixture
async def http(standin: LocalDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {standin.token}"}) as session:
        yield session


async def interaction(standin: LocalDiscord, **kw: Any) -> Any:
    """Create an interaction without a connected bot (the payload is not needed here)."""

    async def swallow(event: str, data: dict[str, Any]) -> None:
        return None

    standin.server.dispatch = swallow  # type: ignore[method-assign]
    return await standin.invoke("ping", **kw)


async def callback(
    http: aiohttp.ClientSession, standin: LocalDiscord, handle: Any, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    url = f"{standin.api_base}/interactions/{handle.state.id}/{handle.state.token}/callback"
    async with http.post(url, json=body, params={"with_response": "1"}) as response:
        return response.status, await response.json()


def original_url(standin: LocalDiscord, handle: Any) -> str:
    app, token = standin.server.application_id, handle.state.token
    return f"{standin.api_base}/webhooks/{app}/{token}/messages/@original"


def codes(standin: LocalDiscord) -> list[str]:
    return [v.code for v in standin.server.violations]


async def test_late_first_response_is_10062(
    http: aiohttp.ClientSession, standin: LocalDiscord
) -> None:
    """Answering after the deadline fails with Unknown interaction and is recorded."""
    standin.server.config.response_deadline = 0.2
    handle = await interaction(standin)
    await asyncio.sleep(0.3)
    status, body = await callback(http, standin, handle, {"type": 5})
    assert (status, body["code"]) == (404, 10062)
    assert codes(standin) == ["10062"]


async def test_unanswered_interaction_is_reported(standin: LocalDiscord) -> None:
    """An interaction never answered shows up once its deadline has passed."""
    standin.server.config.response_deadline = 0.2
    handle = await interaction(standin)
    await asyncio.sleep(0.3)
    assert standin.unanswered() == [handle.state.id]


async def test_second_acknowledgement_is_40060(
    http: aiohttp.ClientSession, standin: LocalDiscord
) -> None:
    """Only one initial response per interaction."""
    handle = await interaction(standin)
    assert (await callback(http, standin, handle, {"type": 5}))[0] == 200
    status, body = await callback(http, standin, handle, {"type": 4, "data": {"content": "x"}})
    assert (status, body["code"]) == (400, 40060)
    assert codes(standin) == ["40060"]


async def test_expired_token_is_50027(http: aiohttp.ClientSession, standin: LocalDiscord) -> None:
    """Editing through a token older than its lifetime fails with 401/50027."""
    handle = await interaction(standin)
    await callback(http, standin, handle, {"type": 5})
    handle.state.expires = 0  # as if 15 minutes had passed
    url = original_url(standin, handle)
    async with http.patch(url, json={"content": "late"}) as response:
        assert response.status == 401
        assert (await response.json())["code"] == 50027
    assert codes(standin) == ["50027"]


async def test_upload_over_the_limit_is_40005(
    http: aiohttp.ClientSession, standin: LocalDiscord
) -> None:
    """A file above the interaction's upload limit is refused with 413/40005."""
    standin.guild.upload_limit = 1000
    handle = await interaction(standin)
    await callback(http, standin, handle, {"type": 5})
    form = aiohttp.FormData()
    form.add_field("payload_json", json.dumps({"attachments": [{"id": 0, "filename": "a.png"}]}))
    form.add_field("files[0]", b"x" * 2000, filename="a.png", content_type="image/png")
    url = original_url(standin, handle)
    async with http.patch(url, data=form) as response:
        assert response.status == 413
        assert (await response.json())["code"] == 40005
    assert codes(standin) == ["40005"]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"content": "x" * 2001}, "content"),
        ({"embeds": [{"description": "x" * 4097}]}, "description"),
        ({"embeds": [{"title": "x" * 257}]}, "title"),
        ({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, "fields"),
        ({"embeds": [{"description": "x" * 4000}, {"description": "x" * 2500}]}, "total"),
        ({"components": [{"type": 1, "components": []}] * 6}, "action rows"),
        (
            {
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 1, "label": "b", "custom_id": f"c{i}"}
                            for i in range(6)
                        ],
                    }
                ]
            },
            "more than 5",
        ),
        (
            {
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 1, "label": "b", "custom_id": "x" * 101}
                        ],
                    }
                ]
            },
            "custom_id",
        ),
    ],
)
async def test_message_limits_are_50035(
    http: aiohttp.ClientSession, standin: LocalDiscord, data: dict[str, Any], fragment: str
) -> None:
    """Content, embed and component limits are enforced on responses."""
    handle = await interaction(standin)
    status, body = await callback(http, standin, handle, {"type": 4, "data": data})
    assert (status, body["code"]) == (400, 50035)
    assert fragment in " ".join(standin.violations)


async def test_component_original_is_the_clicked_message(
    http: aiohttp.ClientSession, standin: LocalDiscord
) -> None:
    """After a deferred update (type 6), "@original" of a button click is the message the
    button is on: it can be edited and deleted with the click's token."""
    handle = await interaction(standin)
    button = {"type": 2, "style": 2, "label": "Go", "custom_id": "go"}
    status, _ = await callback(
        http,
        standin,
        handle,
        {"type": 4, "data": {"content": "hi", "components": [{"type": 1, "components": [button]}]}},
    )
    assert status == 200
    message = handle.original
    click = await standin.click(message, "go")
    status, _ = await callback(http, standin, click, {"type": 6})
    assert status == 200
    async with http.patch(original_url(standin, click), json={"content": "edited"}) as response:
        assert response.status == 200
    assert standin.server.messages[message.id].content == "edited"
    async with http.delete(original_url(standin, click)) as response:
        assert response.status == 204
    assert standin.server.messages[message.id].deleted
    assert not standin.violations


async def test_modal_limits(http: aiohttp.ClientSession, standin: LocalDiscord) -> None:
    """A modal title over 45 characters is refused."""
    handle = await interaction(standin)
    modal = {
        "title": "x" * 46,
        "custom_id": "m",
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "t", "style": 1, "label": "l"}]}
        ],
    }
    status, _ = await callback(http, standin, handle, {"type": 9, "data": modal})
    assert status == 400
    assert "modal title" in " ".join(standin.violations)


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        ({**COMMAND, "name": "Ping"}, "name"),
        ({**COMMAND, "description": ""}, "description"),
        (
            {
                **COMMAND,
                "options": [
                    {"name": "a", "description": "a", "type": 3},
                    {"name": "b", "description": "b", "type": 3, "required": True},
                ],
            },
            "required option after",
        ),
        (
            {
                **COMMAND,
                "options": [{"name": f"o{i}", "description": "d", "type": 3} for i in range(26)],
            },
            "26 options",
        ),
        (
            {
                **COMMAND,
                "options": [
                    {
                        "name": "o",
                        "description": "d",
                        "type": 3,
                        "choices": [{"name": str(i), "value": str(i)} for i in range(26)],
                    }
                ],
            },
            "26 choices",
        ),
        ({**COMMAND, "options": [{"name": "o", "description": "d", "type": 99}]}, "option type"),
    ],
)
async def test_invalid_command_sync_is_refused(
    http: aiohttp.ClientSession, standin: LocalDiscord, command: dict[str, Any], fragment: str
) -> None:
    """Command definitions breaking Discord's rules are refused at sync."""
    url = f"{standin.api_base}/applications/{standin.server.application_id}/commands"
    async with http.put(url, json=[command]) as response:
        assert response.status == 400
    assert fragment in " ".join(standin.violations)


async def test_openapi_mismatch_is_recorded(
    http: aiohttp.ClientSession, standin: LocalDiscord
) -> None:
    """A body that does not match Discord's OpenAPI schema is a violation."""
    url = f"{standin.api_base}/channels/{standin.general.id}/messages"
    async with http.post(url, json={"content": 5}) as response:
        await response.read()
    assert "openapi" in codes(standin)


async def test_rest_without_bot_token_is_401(standin: LocalDiscord) -> None:
    """Bot routes need the bot token."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{standin.api_base}/users/@me") as response,
    ):
        assert response.status == 401


async def test_injected_429_has_real_headers(
    http: aiohttp.ClientSession, standin: LocalDiscord
) -> None:
    """Injected 429s carry Via and X-RateLimit-* so discord.py waits instead of giving up."""
    standin.server.inject_429["/api/v10/users/@me"] = 1
    async with http.get(f"{standin.api_base}/users/@me") as response:
        assert response.status == 429
        assert response.headers["Via"]
        assert response.headers["X-RateLimit-Remaining"] == "0"
        body = await response.json()
        assert body["retry_after"] > 0
        assert body["global"] is False
    async with http.get(f"{standin.api_base}/users/@me") as response:
        assert response.status == 200


async def test_interaction_budget(http: aiohttp.ClientSession, standin: LocalDiscord) -> None:
    """More than 5 requests per 2 s on one interaction token get a 429."""
    handle = await interaction(standin)
    await callback(http, standin, handle, {"type": 5})
    url = original_url(standin, handle)
    statuses = []
    for _ in range(6):
        async with http.get(url) as response:
            statuses.append(response.status)
    assert statuses[-1] == 429
    assert statuses.count(429) == 2


class ZlibStreamContext:
    """discord.py's own zlib-stream client decoder (used when zstandard is absent)."""

    COMPRESSION_TYPE = "zlib-stream"

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.context = zlib.decompressobj()

    def decompress(self, data: bytes, /) -> str | None:
        self.buffer.extend(data)
        if len(data) < 4 or data[-4:] != b"\x00\x00\xff\xff":
            return None
        message = self.context.decompress(self.buffer)
        self.buffer = bytearray()
        return message.decode("utf-8")


@pytest.mark.parametrize("compression", ["zstd-stream", "zlib-stream"])
async def test_real_discord_py_client_connects(
    standin: LocalDiscord, monkeypatch: pytest.MonkeyPatch, compression: str
) -> None:
    """A plain discord.py client logs in and sees the guild over either compression."""
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    if compression == "zlib-stream":
        monkeypatch.setattr(discord.utils, "_ActiveDecompressionContext", ZlibStreamContext)
    monkeypatch.setattr(Route, "BASE", standin.api_base)
    import yarl

    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(standin.gateway_url))
    client = discord.Client(intents=discord.Intents.none() | discord.Intents(guilds=True))
    ready = asyncio.Event()
    client.event(_on_ready(ready))
    task = asyncio.create_task(client.start(standin.token))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        assert [g.id for g in client.guilds] == [standin.guild.id]
        assert standin.server.sessions[0].compress == compression
    finally:
        await client.close()
        await asyncio.gather(task, return_exceptions=True)


def _on_ready(event: asyncio.Event) -> Any:
    async def on_ready() -> None:
        event.set()

    return on_ready
