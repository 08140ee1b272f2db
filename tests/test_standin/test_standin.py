"""The local Discord itself: it must refuse what real Discord refuses, or it proves nothing."""

from __future__ import annotations

import asyncio
import json
import os
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.http import HTTPClient, Route, handle_message_parameters
from discord.webhook.async_ import async_context, interaction_response_params

from tests.discord_standin import LocalDiscord, openapi
from tests.discord_standin.server import StandInConfig
from tests.discord_standin.state import ATTACH_FILES, EMBED_LINKS, SEND_MESSAGES

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


@pytest.fixture
async def dpy(standin: LocalDiscord, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[HTTPClient]:
    """discord.py's own REST client, logged in to the stand-in (webhooks use its base too)."""
    monkeypatch.setattr(Route, "BASE", standin.api_base)
    client = HTTPClient(asyncio.get_running_loop())
    await client.static_login(standin.token)
    yield client
    await client.close()


def webhook(standin: LocalDiscord, handle: Any, session: aiohttp.ClientSession) -> discord.Webhook:
    """The interaction's webhook as discord.py's `interaction.followup` sees it."""
    token = handle.state.token if handle else "unknown-token"
    return discord.Webhook.partial(standin.server.application_id, token, session=session)


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


async def test_unanswered_and_loading_interactions_are_pending(
    http: aiohttp.ClientSession, standin: LocalDiscord
) -> None:
    """Teardown reports an interaction never answered, however recent, and a "thinking…"
    original never filled; the edit that fills it clears it."""
    handle = await interaction(standin)
    assert standin.unanswered() == [handle.state.id]
    await callback(http, standin, handle, {"type": 5})
    assert standin.unanswered() == []
    assert standin.still_loading() == [handle.state.id]
    assert "[loading]" in standin.pending()[0]
    async with http.patch(original_url(standin, handle), json={"content": "done"}) as response:
        assert response.status == 200
    assert standin.pending() == []


async def test_teardown_grace_waits_for_a_late_answer(
    http: aiohttp.ClientSession, standin: LocalDiscord
) -> None:
    """`settle` gives the bot a moment to answer and fill what is still pending."""
    handle = await interaction(standin)

    async def answer_soon() -> None:
        await asyncio.sleep(0.2)
        await callback(http, standin, handle, {"type": 5})
        await asyncio.sleep(0.2)
        async with http.patch(original_url(standin, handle), json={"content": "done"}):
            pass

    task = asyncio.create_task(answer_soon())
    await standin.settle(timeout=3)
    assert standin.pending() == []
    await task


@pytest.mark.allow_pending
async def test_allow_pending_opts_out_of_the_teardown_check(discord_standin: LocalDiscord) -> None:
    """A test that kills the bot mid-interaction opts out; this one would fail at teardown
    if the marker did nothing."""
    discord_standin.server.guild_commands[discord_standin.guild.id] = [
        {**COMMAND, "id": "1", "application_id": str(discord_standin.server.application_id)}
    ]
    handle = await interaction(discord_standin)
    assert discord_standin.allow_pending
    assert discord_standin.unanswered() == [handle.state.id]


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
        ({"embeds": [{"description": "d"}] * 11}, "11 embeds"),
        ({"embeds": [{"fields": [{"name": "n" * 257, "value": "v"}]}]}, "field name"),
        ({"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]}, "field value"),
        ({"embeds": [{"description": "d", "footer": {"text": "f" * 2049}}]}, "footer"),
        ({"embeds": [{"description": "d", "author": {"name": "a" * 257}}]}, "author"),
        (
            {
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 1, "label": "l" * 81, "custom_id": "c"}
                        ],
                    }
                ]
            },
            "label",
        ),
        (
            {
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 1, "label": "a", "custom_id": "same"},
                            {"type": 2, "style": 1, "label": "b", "custom_id": "same"},
                        ],
                    }
                ]
            },
            "duplicate custom_id",
        ),
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


async def test_autocomplete_is_answered_with_choices_only(
    http: aiohttp.ClientSession, standin: LocalDiscord
) -> None:
    """Typing into an autocomplete option is interaction type 4 with the option focused; its
    one answer is type 8 with at most 25 choices; it has no message to follow up on."""
    option = {"name": "style", "description": "d", "type": 3, "autocomplete": True}
    standin.server.guild_commands[standin.guild.id].append(
        {**COMMAND, "name": "draw", "id": "2", "options": [option]}
    )
    sent: list[dict[str, Any]] = []

    async def capture(event: str, data: dict[str, Any]) -> None:
        sent.append(data)

    standin.server.dispatch = capture  # type: ignore[method-assign]
    with pytest.raises(AssertionError, match="no autocomplete"):
        await standin.autocomplete("ping", "nothing", "x")
    handle = await standin.autocomplete("draw", "style", "ci")
    assert sent[-1]["type"] == 4
    assert sent[-1]["data"]["options"] == [
        {"name": "style", "type": 3, "value": "ci", "focused": True}
    ]
    status, _ = await callback(http, standin, handle, {"type": 4, "data": {"content": "hi"}})
    assert status == 400
    too_many = [{"name": str(i), "value": str(i)} for i in range(26)]
    status, _ = await callback(http, standin, handle, {"type": 8, "data": {"choices": too_many}})
    assert status == 400
    choices = [{"name": "cinema — 16:9", "value": "cinema"}]
    status, _ = await callback(http, standin, handle, {"type": 8, "data": {"choices": choices}})
    assert status == 200
    assert handle.state.choices == choices
    followup = f"{standin.api_base}/webhooks/{standin.server.application_id}/{handle.state.token}"
    async with http.post(followup, json={"content": "late"}) as response:
        assert response.status == 404
    assert codes(standin) == ["50035", "openapi", "50035", "10015"]  # the spec caps 25 too
    assert standin.pending() == []


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
        ({**COMMAND, "name": "x" * 33}, "name"),
        (
            {**COMMAND, "options": [{"name": "Bad Name", "description": "d", "type": 3}]},
            "option name",
        ),
        ({**COMMAND, "options": [{"name": "o", "description": "d" * 101, "type": 3}]}, "1-100"),
        (
            {
                **COMMAND,
                "options": [
                    {
                        "name": "g",
                        "description": "d",
                        "type": 2,
                        "options": [
                            {
                                "name": "h",
                                "description": "d",
                                "type": 2,
                                "options": [{"name": "s", "description": "d", "type": 1}],
                            }
                        ],
                    }
                ],
            },
            "nested too deep",
        ),
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
        (
            {
                **COMMAND,
                "options": [
                    {
                        "name": "o",
                        "description": "d",
                        "type": 3,
                        "autocomplete": True,
                        "choices": [{"name": "a", "value": "a"}],
                    }
                ],
            },
            "autocomplete and choices",
        ),
        (
            {**COMMAND, "description_localizations": {"xx": "Bild"}},
            "unknown locale",
        ),
        (
            {
                **COMMAND,
                "options": [
                    {
                        "name": "o",
                        "description": "d",
                        "type": 3,
                        "name_localizations": {"de": "Groß"},
                    }
                ],
            },
            "invalid name 'Groß'",
        ),
        (
            {
                **COMMAND,
                "options": [
                    {
                        "name": "o",
                        "description": "d",
                        "type": 3,
                        "name_localizations": {"fr": "a b"},
                    }
                ],
            },
            "invalid name 'a b'",
        ),
        ({**COMMAND, "description_localizations": {"ja": "あ" * 101}}, "101 characters"),
        (
            {
                **COMMAND,
                "options": [
                    {
                        "name": "o",
                        "description": "d",
                        "type": 3,
                        "choices": [{"name": "a", "value": "a", "name_localizations": {"de": ""}}],
                    }
                ],
            },
            "choice: name in de: 0 characters",
        ),
        (
            {
                **COMMAND,
                "options": [
                    {"name": "a", "description": "d", "type": 3, "name_localizations": {"de": "x"}},
                    {"name": "b", "description": "d", "type": 3, "name_localizations": {"de": "x"}},
                ],
            },
            "option names repeat in de",
        ),
        (
            {
                **COMMAND,
                "options": [
                    {
                        "name": f"o{i}",
                        "description": "d",
                        "description_localizations": {"de": "x" * 100},
                        "type": 3,
                        "choices": [
                            {"name": "c" * 100, "value": str(j), "name_localizations": {}}
                            for j in range(10)
                        ],
                    }
                    for i in range(8)
                ],
            },
            "over 8000 characters",
        ),
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


async def test_command_sync_from_discord_py_matches_the_spec(
    standin: LocalDiscord, monkeypatch: pytest.MonkeyPatch, http: aiohttp.ClientSession
) -> None:
    """What discord.py sends for a rich command tree validates against the spec (big integer
    bounds stay numbers, a forum channel option lists GUILD_MEDIA); a body that does not is
    recorded."""
    monkeypatch.setattr(Route, "BASE", standin.api_base)
    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)
    group = app_commands.Group(name="channel", description="Channels", guild_only=True)

    @group.command(name="allow", description="Allow a channel")
    async def allow(
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.Thread | discord.ForumChannel,
    ) -> None: ...

    @app_commands.command(name="flux", description="Generate")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.choices(size=[app_commands.Choice(name="Square", value="1:1")])
    async def flux(
        interaction: discord.Interaction,
        prompt: str,
        size: str = "1:1",
        seed: app_commands.Range[int, 0, 2**53 - 1] = 0,
        reference: discord.Attachment | None = None,
    ) -> None: ...

    tree.add_command(group)
    tree.add_command(flux)
    try:
        await client.login(standin.token)
        synced = await tree.sync()
    finally:
        await client.close()
    assert sorted(c.name for c in synced) == ["channel", "flux"]
    assert standin.violations == []
    url = f"{standin.api_base}/applications/{standin.server.application_id}/commands"
    async with http.put(url, json=[{**COMMAND, "dm_permission": "yes"}]) as response:
        await response.read()
    assert codes(standin) == ["openapi"]


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


async def test_errors_reach_discord_py_with_their_code(
    http: aiohttp.ClientSession, standin: LocalDiscord, dpy: HTTPClient
) -> None:
    """Errors are exactly application/json, so discord.py reads Discord's code from them."""
    handle = await interaction(standin)
    hook = webhook(standin, handle, http)
    with pytest.raises(discord.NotFound) as early:
        await hook.send("too early", wait=True)
    assert early.value.code == 10015
    adapter = async_context.get()
    await adapter.create_interaction_response(
        handle.state.id, handle.state.token, session=http, params=interaction_response_params(5)
    )
    with pytest.raises(discord.HTTPException) as twice:
        await adapter.create_interaction_response(
            handle.state.id, handle.state.token, session=http, params=interaction_response_params(5)
        )
    assert (twice.value.status, twice.value.code) == (400, 40060)
    with pytest.raises(discord.NotFound) as missing:
        await dpy.get_message(standin.general.id, 12345)
    assert missing.value.code == 10008


async def test_injected_429_is_retried_by_discord_py(
    http: aiohttp.ClientSession, standin: LocalDiscord, dpy: HTTPClient
) -> None:
    """A 429 with Via and retry_after is waited out and retried, on bot routes and on the
    interaction webhook alike (not taken for a Cloudflare ban, nor a crash)."""
    standin.server.inject_429[f"/api/v10/channels/{standin.general.id}/messages"] = 1
    sent = await dpy.send_message(standin.general.id, params=handle_message_parameters("hi"))
    assert sent["content"] == "hi"
    handle = await interaction(standin)
    await callback(http, standin, handle, {"type": 5})
    standin.server.inject_429["/api/v10/webhooks/"] = 1
    message = await webhook(standin, handle, http).send("done", wait=True)
    assert message.content == "done"
    assert len(standin.server.rate_limited) == 2
    assert standin.violations == []


async def test_refusals_are_recorded(
    http: aiohttp.ClientSession, standin: LocalDiscord, dpy: HTTPClient
) -> None:
    """Reaching an ephemeral message through the channel, an unknown webhook message, a missing
    permission and an unknown token each answer Discord's error and are violations."""
    handle = await interaction(standin)
    await callback(http, standin, handle, {"type": 4, "data": {"content": "psst", "flags": 64}})
    secret = handle.original
    with pytest.raises(discord.NotFound) as ephemeral:
        await dpy.edit_message(secret.channel_id, secret.id, params=handle_message_parameters("x"))
    hook = webhook(standin, handle, http)
    with pytest.raises(discord.NotFound) as unknown_edit:
        await hook.edit_message(12345, content="x")
    with pytest.raises(discord.NotFound) as unknown_delete:
        await hook.delete_message(12345)
    standin.general.bot_permissions &= ~SEND_MESSAGES
    with pytest.raises(discord.Forbidden) as forbidden:
        await dpy.send_message(standin.general.id, params=handle_message_parameters("hi"))
    with pytest.raises(discord.HTTPException) as token:
        await webhook(standin, None, http).send("who?", wait=True)
    seen = [e.value.code for e in (ephemeral, unknown_edit, unknown_delete, forbidden, token)]
    assert seen == [10008, 10008, 10008, 50013, 50027]
    assert codes(standin) == ["10008", "10008", "10008", "50013", "50027"]


def with_files(payload: dict[str, Any], count: int) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("payload_json", json.dumps(payload))
    for i in range(count):
        form.add_field(f"files[{i}]", b"x", filename=f"f{i}.txt", content_type="text/plain")
    return form


@pytest.mark.parametrize("ephemeral", [False, True])
async def test_interaction_responses_follow_the_bot_permissions(
    http: aiohttp.ClientSession, standin: LocalDiscord, ephemeral: bool
) -> None:
    """Without ATTACH_FILES and EMBED_LINKS in the channel, a response, an edit of the original
    and a follow-up with a file or an embed are refused with 403/50013; ephemeral ones are not
    checked."""
    standin.general.bot_permissions &= ~(ATTACH_FILES | EMBED_LINKS)
    flags = 64 if ephemeral else 0
    embed = {"description": "d"}
    handle = await interaction(standin)
    status, _ = await callback(
        http, standin, handle, {"type": 4, "data": {"embeds": [embed], "flags": flags}}
    )
    statuses = [status]
    handle = await interaction(standin)
    await callback(http, standin, handle, {"type": 5, "data": {"flags": flags}})
    form = with_files({"attachments": [{"id": 0, "filename": "f0.txt"}]}, 1)
    async with http.patch(original_url(standin, handle), data=form) as response:
        statuses.append(response.status)
    followup_url = original_url(standin, handle).rsplit("/messages/", 1)[0]
    async with http.post(followup_url, json={"embeds": [embed], "flags": flags}) as response:
        statuses.append(response.status)
    if ephemeral:
        assert statuses == [200, 200, 200]
        assert standin.violations == []
    else:
        assert statuses == [403, 403, 403]
        assert codes(standin) == ["50013"] * 3
        assert "EMBED_LINKS" in standin.violations[0]
        assert "ATTACH_FILES" in standin.violations[1]


async def test_update_message_follows_the_bot_permissions(
    http: aiohttp.ClientSession, standin: LocalDiscord
) -> None:
    """A type 7 update that adds an embed to a public message needs EMBED_LINKS."""
    handle = await interaction(standin)
    button = {"type": 2, "style": 2, "label": "Go", "custom_id": "go"}
    row = {"type": 1, "components": [button]}
    await callback(
        http, standin, handle, {"type": 4, "data": {"content": "hi", "components": [row]}}
    )
    standin.general.bot_permissions &= ~EMBED_LINKS
    click = await standin.click(handle.original, "go")
    status, body = await callback(
        http, standin, click, {"type": 7, "data": {"embeds": [{"description": "d"}]}}
    )
    assert (status, body["code"]) == (403, 50013)
    assert codes(standin) == ["50013"]


async def test_empty_messages_are_50006(http: aiohttp.ClientSession, standin: LocalDiscord) -> None:
    """A channel message, a follow-up or a type 4 response with nothing to show is refused."""
    url = f"{standin.api_base}/channels/{standin.general.id}/messages"
    async with http.post(url, json={"content": ""}) as response:
        assert (response.status, (await response.json())["code"]) == (400, 50006)
    handle = await interaction(standin)
    status, body = await callback(http, standin, handle, {"type": 4, "data": {"flags": 64}})
    assert (status, body["code"]) == (400, 50006)
    await callback(http, standin, handle, {"type": 5})
    followup_url = original_url(standin, handle).rsplit("/messages/", 1)[0]
    async with http.post(followup_url, json={"embeds": []}) as response:
        assert (response.status, (await response.json())["code"]) == (400, 50006)
    async with http.post(url, data=with_files({}, 1)) as response:
        assert response.status == 200  # a file alone is something to show
    assert codes(standin) == ["50006"] * 3


async def test_files_missing_from_attachments_are_dropped(
    http: aiohttp.ClientSession, standin: LocalDiscord
) -> None:
    """With an `attachments` array only the files it references are attached; without one,
    every uploaded file is."""
    url = f"{standin.api_base}/channels/{standin.general.id}/messages"
    listed = {"content": "x", "attachments": [{"id": 1, "filename": "f1.txt"}]}
    async with http.post(url, data=with_files(listed, 2)) as response:
        assert [a["filename"] for a in (await response.json())["attachments"]] == ["f1.txt"]
    async with http.post(url, data=with_files({"content": "x"}, 2)) as response:
        filenames = [a["filename"] for a in (await response.json())["attachments"]]
        assert filenames == ["f0.txt", "f1.txt"]
    assert standin.violations == []


async def test_too_many_attachments_is_30015(
    http: aiohttp.ClientSession, standin: LocalDiscord
) -> None:
    """More than 10 attachments on one message answers 30015."""
    url = f"{standin.api_base}/channels/{standin.general.id}/messages"
    async with http.post(url, data=with_files({"content": "x"}, 11)) as response:
        assert (response.status, (await response.json())["code"]) == (400, 30015)
    assert codes(standin) == ["30015"]


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


@pytest.mark.e2e  # slow: real processes, servers or timed waits
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


@pytest.mark.skipif(
    # In CI the reference copy is always beside the checkout: its absence there fails.
    not openapi.SHARED_SPEC.exists() and os.environ.get("CI") != "true",
    reason=f"no reference copy at {openapi.SHARED_SPEC} to compare the bundled spec with",
)
def test_the_bundled_discord_spec_is_the_reference_one() -> None:
    """The stand-in checks requests against a copy of Discord's spec kept in the repository
    (so a fresh clone checks them too); it must match the reference copy beside the checkout."""
    assert openapi.load_spec() == json.loads(openapi.SHARED_SPEC.read_text())
