"""The test-facing side of the local Discord: act as members and read what they would see."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.discord_standin.server import StandInConfig, StandInServer, stored_file
from tests.discord_standin.state import (
    MANAGE_GUILD,
    Channel,
    Guild,
    Interaction,
    Member,
    Message,
    Role,
    User,
    snowflake,
)

OPTION_TYPES = {str: 3, int: 4, bool: 5, float: 10}


@dataclass
class InteractionHandle:
    """One interaction a member started; read its responses as they change."""

    discord: LocalDiscord
    state: Interaction

    @property
    def original(self) -> Message | None:
        message = self.discord.server.messages.get(self.state.original_id or 0)
        return None if message is None or message.deleted else message

    @property
    def followups(self) -> list[Message]:
        return [self.discord.server.messages[m] for m in self.state.followups]

    async def wait_original(
        self, predicate: Callable[[Message], bool] = lambda m: True, timeout: float = 10.0
    ) -> Message:
        """Wait until the original response exists and satisfies `predicate`."""
        found: list[Message] = []

        def check() -> bool:
            message = self.original
            if message is not None and predicate(message):
                found.append(message)
                return True
            return False

        await self.discord.wait_for(check, timeout)
        return found[0]

    async def wait_acknowledged(self, timeout: float = 5.0) -> float:
        """Wait for the first response; returns seconds from creation to acknowledgement."""
        await self.discord.wait_for(lambda: self.state.acked, timeout)
        assert self.state.acked_at is not None
        return self.state.acked_at - self.state.created


class LocalDiscord:
    """A local Discord with one guild, a few channels and members, ready for a bot."""

    def __init__(self, config: StandInConfig | None = None) -> None:
        self.server = StandInServer(config)
        self.owner = User(snowflake(), "owner")
        self.guild: Guild = self.server.add_guild(owner=self.owner)
        self.general: Channel = self.server.add_channel(self.guild, "general")
        self.art: Channel = self.server.add_channel(self.guild, "art")
        self.adults: Channel = self.server.add_channel(self.guild, "after-dark", nsfw=True)
        self.members: dict[str, User] = {}
        # Set by a test that kills the bot mid-interaction: teardown then skips `pending()`.
        self.allow_pending = False
        self._runner: web.AppRunner | None = None
        self._watch: asyncio.Task[None] | None = None
        for name in ("alice", "bob"):
            self.add_member(name)
        self.staff_role = self.add_role("Staff", MANAGE_GUILD)

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(self.server.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.server.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for session in list(self.server.sessions):
            await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def token(self) -> str:
        return self.server.token

    @property
    def api_base(self) -> str:
        return f"{self.server.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.server.base_url.replace("http", "ws", 1) + "/gateway"

    @property
    def violations(self) -> list[str]:
        return [str(v) for v in self.server.violations]

    # --- the world ----------------------------------------------------------------------

    def add_member(
        self, name: str, roles: list[Role] | None = None, *, locale: str = "en-US"
    ) -> User:
        """A member whose Discord app is in `locale` (`de`, `pt-BR`…), as their interactions
        say."""
        user = User(snowflake(), name, locale=locale)
        self.guild.members[user.id] = Member(user, [r.id for r in roles or []])
        self.members[name] = user
        return user

    def add_role(self, name: str, permissions: int) -> Role:
        role = Role(snowflake(), name, permissions, position=len(self.guild.roles))
        self.guild.roles[role.id] = role
        return role

    async def set_preferred_locale(self, locale: str) -> None:
        """The server's Community language changes (Server Settings ▸ Community); a connected
        bot hears of it as Discord tells it, with GUILD_UPDATE."""
        self.guild.preferred_locale = locale
        if self.server.sessions:
            data = self.guild.to_json()
            await self.server.dispatch("GUILD_UPDATE", {**data, "guild_id": data["id"]})

    def upload(self, filename: str, data: bytes, content_type: str | None) -> dict[str, Any]:
        """A file as if a member attached it: stored on the CDN, described as Discord does."""
        stored = stored_file(filename, data, content_type)
        stored.content_type = content_type
        attachment_id = snowflake()
        self.server.files[(self.general.id, attachment_id)] = stored
        url = f"{self.server.base_url}/cdn/attachments/{self.general.id}/{attachment_id}/{filename}"
        described: dict[str, Any] = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "ephemeral": True,
        }
        if content_type:
            described["content_type"] = content_type
        if stored.width:
            described |= {"width": stored.width, "height": stored.height}
        return described

    def post(
        self,
        user: User | str,
        content: str = "",
        *,
        files: Sequence[tuple[str, bytes, str | None]] = (),
        embeds: list[dict[str, Any]] | None = None,
        channel: Channel | None = None,
    ) -> Message:
        """A member's own message in a channel (files: (filename, data, content type))."""
        author = self.members[user] if isinstance(user, str) else user
        where = channel or self.general
        message = Message(
            id=snowflake(),
            channel_id=where.id,
            guild_id=self.guild.id,
            author=author,
            content=content,
            embeds=embeds or [],
        )
        stored = {i: stored_file(name, data, kind) for i, (name, data, kind) in enumerate(files)}
        message.attachments = self.server._attachments(where.id, {}, stored, None)
        self.server.messages[message.id] = message
        return message

    # --- waiting ------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds, re-checking whenever the stand-in changes."""
        async with asyncio.timeout(timeout):
            async with self.server.changed:
                while not predicate():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.server.changed.wait(), 0.25)

    async def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until a bot has identified and synced at least one command."""
        await self.wait_for(
            lambda: (
                bool(self.server.sessions)
                and all(s.identified.is_set() for s in self.server.sessions)
                and bool(self.commands)
            ),
            timeout,
        )

    @property
    def commands(self) -> dict[str, dict[str, Any]]:
        merged = {c["name"]: c for c in self.server.global_commands}
        merged |= {c["name"]: c for c in self.server.guild_commands.get(self.guild.id, [])}
        return merged

    # --- acting as a member --------------------------------------------------------------

    def _base(
        self,
        kind: int,
        user: User,
        channel: Channel,
        *,
        created_ago: float = 0.0,
        locale: str | None = None,
    ) -> tuple[dict[str, Any], Interaction]:
        member = self.guild.members[user.id]
        interaction_id = snowflake(time.time() - created_ago)
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(40)
        now = time.monotonic()
        state = Interaction(
            id=interaction_id,
            token=token,
            type=kind,
            user=user,
            channel_id=channel.id,
            guild_id=self.guild.id,
            created=now,
            expires=now - created_ago + self.server.config.token_lifetime,
            upload_limit=self.guild.upload_limit,
        )
        self.server.interactions[token] = state
        payload = {
            "id": str(interaction_id),
            "application_id": str(self.server.application_id),
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": str(self.guild.id),
            "guild": {
                "id": str(self.guild.id),
                "locale": self.guild.preferred_locale,
                "features": [],
            },
            "channel_id": str(channel.id),
            "channel": {**channel.to_json(), "permissions": str(self.guild.permissions(member))},
            "member": member.to_json(permissions=self.guild.permissions(member)),
            "app_permissions": str(channel.bot_permissions),
            "locale": locale or user.locale,
            "guild_locale": self.guild.preferred_locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(self.guild.id)},
            "context": 0,
            "attachment_size_limit": self.guild.upload_limit,
        }
        return payload, state

    async def _send(self, payload: dict[str, Any], state: Interaction) -> InteractionHandle:
        handle = InteractionHandle(self, state)
        state.created = time.monotonic()
        await self.server.dispatch("INTERACTION_CREATE", payload)
        return handle

    async def invoke(
        self,
        command: str,
        *,
        user: User | str = "alice",
        channel: Channel | None = None,
        options: dict[str, Any] | None = None,
        attachments: dict[str, dict[str, Any]] | None = None,
        subcommand: str | None = None,
        created_ago: float = 0.0,
        locale: str | None = None,
    ) -> InteractionHandle:
        """A member runs `/command` with options (attachments: from `upload`), their Discord
        set to `locale` (by default the member's own, `add_member(locale=…)`)."""
        member = self.members[user] if isinstance(user, str) else user
        where = channel or self.general
        payload, state = self._base(2, member, where, created_ago=created_ago, locale=locale)
        payload["data"] = self._command_data(command, options, attachments, subcommand)
        return await self._send(payload, state)

    async def autocomplete(
        self,
        command: str,
        focused: str,
        typed: str,
        *,
        user: User | str = "alice",
        channel: Channel | None = None,
        options: dict[str, Any] | None = None,
        subcommand: str | None = None,
    ) -> InteractionHandle:
        """A member types `typed` into the option `focused` of `/command` (which must declare
        autocomplete): Discord asks the bot for choices (interaction type 4, with the options
        filled in so far and the focused one marked); its answer is `handle.state.choices`."""
        member = self.members[user] if isinstance(user, str) else user
        data = self._command_data(command, options, None, subcommand, focused=(focused, typed))
        payload, state = self._base(4, member, channel or self.general)
        payload["data"] = data
        return await self._send(payload, state)

    def _command_data(
        self,
        command: str,
        options: dict[str, Any] | None,
        attachments: dict[str, dict[str, Any]] | None,
        subcommand: str | None,
        *,
        focused: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """The `data` of a slash command interaction, as Discord builds it from the synced
        definition."""
        definition = self.commands[command]
        resolved: dict[str, Any] = {}
        opts: list[dict[str, Any]] = []
        declared = {o["name"]: o for o in definition.get("options", [])}
        # "channel allow" is the subcommand `allow` of the group `channel`.
        path = subcommand.split() if subcommand else []
        for part in path:
            declared = {o["name"]: o for o in declared[part].get("options", [])}
        for name, value in (options or {}).items():
            kind = declared[name]["type"]
            opts.append({"name": name, "type": kind, "value": self._resolve(value, resolved)})
        for name, attachment in (attachments or {}).items():
            opts.append({"name": name, "type": 11, "value": attachment["id"]})
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
        if focused is not None:
            name, typed = focused
            if not declared.get(name, {}).get("autocomplete"):
                raise AssertionError(f"option {name!r} of /{command} has no autocomplete")
            # Discord sends what was typed so far as a string, whatever the option's type.
            opts.append({"name": name, "type": declared[name]["type"], "value": typed,
                         "focused": True})  # fmt: skip
        if len(path) == 2:
            opts = [
                {
                    "name": path[0],
                    "type": 2,
                    "options": [{"name": path[1], "type": 1, "options": opts}],
                }
            ]
        elif path:
            opts = [{"name": path[0], "type": 1, "options": opts}]
        return {
            "id": definition["id"],
            "name": command,
            "type": 1,
            "options": opts,
            **({"guild_id": definition["guild_id"]} if "guild_id" in definition else {}),
            **({"resolved": resolved} if resolved else {}),
        }

    def _resolve(self, value: Any, resolved: dict[str, Any]) -> Any:
        """A member, role or channel option as Discord sends it: its id, described in
        `resolved`."""
        key = str(getattr(value, "id", ""))
        if isinstance(value, User):
            member = self.guild.members[value.id]
            resolved.setdefault("users", {})[key] = value.to_json()
            data = member.to_json(permissions=self.guild.permissions(member))
            data.pop("user")
            resolved.setdefault("members", {})[key] = data
        elif isinstance(value, Role):
            resolved.setdefault("roles", {})[key] = value.to_json()
        elif isinstance(value, Channel):
            data = value.to_json()
            data["permissions"] = str(value.bot_permissions)
            resolved.setdefault("channels", {})[key] = data
        else:
            return value
        return key

    async def invoke_on_message(
        self, command: str, message: Message, *, user: User | str = "alice"
    ) -> InteractionHandle:
        """A member picks the message command `command` (Apps ▸ …) on `message`."""
        definition = self.commands[command]
        if definition.get("type") != 3:
            raise AssertionError(f"{command!r} is not a message command")
        member = self.members[user] if isinstance(user, str) else user
        channel = self.server.channels[message.channel_id]
        payload, state = self._base(2, member, channel)
        payload["data"] = {
            "id": definition["id"],
            "name": command,
            "type": 3,
            "target_id": str(message.id),
            "resolved": {"messages": {str(message.id): message.to_json()}},
            **({"guild_id": definition["guild_id"]} if "guild_id" in definition else {}),
        }
        return await self._send(payload, state)

    async def click(
        self, message: Message, custom_id: str, *, user: User | str = "alice"
    ) -> InteractionHandle:
        """A member clicks the button `custom_id` on `message`."""
        if custom_id not in message.custom_ids():
            raise AssertionError(f"no button {custom_id!r} on message {message.id}")
        member = self.members[user] if isinstance(user, str) else user
        channel = self.server.channels[message.channel_id]
        payload, state = self._base(3, member, channel)
        payload["message"] = message.to_json()
        payload["data"] = {"custom_id": custom_id, "component_type": 2}
        state.original_id = None
        state.source_id = message.id
        return await self._send(payload, state)

    async def submit_modal(
        self, opened: InteractionHandle, values: dict[str, str], *, user: User | str = "alice"
    ) -> InteractionHandle:
        """Submit the modal that `opened` showed, with text input values by custom_id."""
        modal = opened.state.modal
        if modal is None:
            raise AssertionError("that interaction did not open a modal")
        member = self.members[user] if isinstance(user, str) else user
        channel = self.server.channels[opened.state.channel_id]
        payload, state = self._base(5, member, channel)
        rows = []
        for row in modal["components"]:
            children = row.get("components") or [row.get("component")]
            rows.append(
                {
                    "type": 1,
                    "components": [
                        {
                            "type": 4,
                            "custom_id": c["custom_id"],
                            "value": values.get(c["custom_id"], c.get("value", "")),
                        }
                        for c in children
                        if c
                    ],
                }
            )
        payload["data"] = {"custom_id": modal["custom_id"], "components": rows}
        return await self._send(payload, state)

    # --- reading ---------------------------------------------------------------------------

    def messages(
        self, channel: Channel | None = None, *, viewer: User | None = None
    ) -> list[Message]:
        """Messages visible in a channel, oldest first (ephemeral ones only to their member)."""
        channel = channel or self.general
        visible = []
        for message in self.server.messages.values():
            if message.channel_id != channel.id or message.deleted:
                continue
            if message.ephemeral:
                owner = next(
                    (
                        i.user
                        for i in self.server.interactions.values()
                        if i.id == message.interaction_id
                    ),
                    None,
                )
                if viewer is None or owner is None or owner.id != viewer.id:
                    continue
            visible.append(message)
        return sorted(visible, key=lambda m: m.id)

    def unanswered(self) -> list[int]:
        """Interactions never acknowledged."""
        return [i.id for i in self.server.interactions.values() if not i.acked]

    def still_loading(self) -> list[int]:
        """Interactions deferred with "thinking…" (type 5) whose original was never filled."""
        loading = []
        for state in self.server.interactions.values():
            original = self.server.messages.get(state.original_id or 0)
            if state.response_type == 5 and original and original.loading and not original.deleted:
                loading.append(state.id)
        return loading

    def pending(self) -> list[str]:
        """What members would still be waiting for, one line each."""
        states = {i.id: i for i in self.server.interactions.values()}

        def who(interaction_id: int) -> str:
            state = states[interaction_id]
            kind = {2: "command", 3: "component", 4: "autocomplete", 5: "modal submit"}[state.type]
            expired = ", token expired" if time.monotonic() > state.expires else ""
            private = ", ephemeral" if state.ephemeral else ""
            return (
                f"interaction {interaction_id} ({kind} by {state.user.username}{private}{expired})"
            )

        unanswered = [f"[unanswered] {who(i)} was never acknowledged" for i in self.unanswered()]
        loading = [
            f"[loading] {who(i)} was deferred but its original still says thinking…"
            for i in self.still_loading()
        ]
        return unanswered + loading

    async def settle(self, timeout: float = 3.0) -> None:
        """Give the bot `timeout` seconds to answer and fill what is pending (at teardown)."""
        with contextlib.suppress(TimeoutError):
            await self.wait_for(lambda: not self.pending(), timeout)
