"""The local Discord's HTTP and WebSocket server: gateway, REST, interaction webhooks and a CDN.

It answers the way Discord does (JSON bodies with exactly `application/json`, error codes,
rate-limit headers with `Via`) and records every rule the bot breaks as a violation.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import secrets
import time
import zlib
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web
from PIL import Image

from tests.discord_standin import rules
from tests.discord_standin.openapi import SpecValidator
from tests.discord_standin.state import (
    ATTACH_FILES,
    EMBED_LINKS,
    SEND_MESSAGES,
    Channel,
    Guild,
    Interaction,
    Member,
    Message,
    Role,
    StoredFile,
    TimelineEntry,
    User,
    Violation,
    iso,
    snowflake,
)

try:
    import zstandard
except ImportError:  # pragma: no cover - zstd is optional in discord.py too
    zstandard = None  # type: ignore[assignment]

JSON = "application/json"


@dataclass
class StandInConfig:
    response_deadline: float = 3.0  # seconds to the initial interaction response
    token_lifetime: float = 15 * 60.0
    interaction_budget: tuple[int, float] = (5, 2.0)  # requests per window per token
    validate_openapi: bool = True


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # discord.py only parses bodies whose Content-Type is exactly application/json: aiohttp's
    # `content_type=` adds "; charset=utf-8", and errors and 429s would then read as text.
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={**(headers or {}), "Content-Type": JSON},
    )


def error(status: int, code: int, message: str) -> web.Response:
    return json_response({"message": message, "code": code}, status)


def ok(data: Any, status: int = 200) -> web.Response:
    if data is None:
        return web.Response(status=204)
    return json_response(data, status)


class GatewaySession:
    """One WebSocket connection from the bot, with the transport compression it asked for."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.seq = 0
        self.compress = compress
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self._zstd = (
            zstandard.ZstdCompressor().compressobj()
            if compress == "zstd-stream" and zstandard is not None
            else None
        )
        self.identified = asyncio.Event()
        self.shard: tuple[int, int] | None = None  # (id, count) when the bot shards

    def serves(self, guild_id: int) -> bool:
        """Discord's routing: a guild belongs to shard (guild_id >> 22) % count."""
        return self.shard is None or (guild_id >> 22) % self.shard[1] == self.shard[0]

    async def send(self, op: int, data: Any, event: str | None = None) -> None:
        payload: dict[str, Any] = {"op": op, "d": data, "s": None, "t": event}
        if op == 0:
            self.seq += 1
            payload["s"] = self.seq
        raw = json.dumps(payload).encode()
        if self._zlib is not None:
            await self.ws.send_bytes(self._zlib.compress(raw) + self._zlib.flush(zlib.Z_SYNC_FLUSH))
        elif self._zstd is not None:
            chunk = self._zstd.compress(raw) + self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
            await self.ws.send_bytes(chunk)
        else:
            await self.ws.send_str(raw.decode())


class StandInServer:
    """State plus the aiohttp application serving it."""

    def __init__(self, config: StandInConfig | None = None) -> None:
        self.config = config or StandInConfig()
        self.token = f"stand-in.{secrets.token_urlsafe(12)}"
        self.application_id = snowflake()
        self.bot = User(self.application_id, "flux", bot=True)
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.files: dict[tuple[int, int], StoredFile] = {}
        self.interactions: dict[str, Interaction] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.sessions: list[GatewaySession] = []
        self.identifies = 0
        self.violations: list[Violation] = []
        self.timeline: list[TimelineEntry] = []
        self.rate_limited: list[str] = []
        self.inject_429: dict[str, int] = defaultdict(int)
        self.requests: list[tuple[str, str]] = []
        self._budget: dict[str, deque[float]] = defaultdict(deque)
        self.changed = asyncio.Condition()
        self.spec = SpecValidator.shared() if self.config.validate_openapi else None
        self.base_url = ""
        self.app = self._build_app()

    # --- bookkeeping ------------------------------------------------------------------

    def violate(self, code: str, detail: str) -> None:
        self.violations.append(Violation(code, detail))

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def record(self, action: str, message: Message) -> None:
        self.timeline.append(
            TimelineEntry(
                at=time.monotonic(),
                action=action,
                message_id=message.id,
                channel_id=message.channel_id,
                content=message.content,
                embeds=json.loads(json.dumps(message.embeds)),
                components=json.loads(json.dumps(message.components)),
                attachments=[dict(a) for a in message.attachments],
                ephemeral=message.ephemeral,
            )
        )

    def add_guild(self, name: str = "Test Server", owner: User | None = None) -> Guild:
        owner = owner or User(snowflake(), "owner")
        guild = Guild(snowflake(), name, owner.id)
        guild.roles[guild.id] = Role(guild.id, "@everyone", rules_permissions(), position=0)
        guild.members[owner.id] = Member(owner)
        guild.members[self.bot.id] = Member(self.bot)
        self.guilds[guild.id] = guild
        return guild

    def add_channel(self, guild: Guild, name: str, *, nsfw: bool = False) -> Channel:
        channel = Channel(snowflake(), name, guild.id, nsfw=nsfw, position=len(guild.channels))
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def add_thread(self, parent: Channel, name: str, owner: User) -> Channel:
        """A public thread (type 11) in `parent`; it inherits the parent's permissions."""
        thread = Channel(
            snowflake(),
            name,
            parent.guild_id,
            nsfw=parent.nsfw,
            type=11,
            bot_permissions=parent.bot_permissions,
            parent_id=parent.id,
            owner_id=owner.id,
        )
        self.guilds[parent.guild_id].channels[thread.id] = thread
        self.channels[thread.id] = thread
        return thread

    # --- gateway ----------------------------------------------------------------------

    async def gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        session = GatewaySession(ws, request.query.get("compress"))
        self.sessions.append(session)
        try:
            await session.send(10, {"heartbeat_interval": 41250})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                if op == 1:
                    # A real ACK takes a round trip. An instant one can beat discord.py's
                    # heartbeat thread to noting when it sent, which then logs a false
                    # "websocket is 41 s behind".
                    await asyncio.sleep(0.02)
                    await session.send(11, None)
                elif op == 2:
                    await self._identify(session, payload["d"])
                elif op == 6:
                    # Sessions are not kept: make the client identify again, as Discord may.
                    await session.send(9, False)
        finally:
            self.sessions.remove(session)
        return ws

    async def _identify(self, session: GatewaySession, data: dict[str, Any]) -> None:
        if data.get("token") not in (self.token, f"Bot {self.token}"):
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identifies += 1
        if data.get("shard"):
            shard_id, count = (int(n) for n in data["shard"])
            session.shard = (shard_id, count)
        guilds = [g for g in self.guilds.values() if session.serves(g.id)]
        ready = {
            "v": 10,
            "user": self.bot.to_json(),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": secrets.token_hex(16),
            "resume_gateway_url": self.base_url.replace("http", "ws", 1) + "/gateway",
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        if data.get("shard"):
            ready["shard"] = data["shard"]
        await session.send(0, ready, "READY")
        for guild in guilds:
            await session.send(0, guild.to_json(), "GUILD_CREATE")
        session.identified.set()
        await self.notify()

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to the bot: a guild's events go to the shard that serves it."""
        if not self.sessions:
            raise RuntimeError("the bot is not connected to the local Discord")
        guild_id = int(data.get("guild_id") or 0)
        serving = [s for s in self.sessions if s.identified.is_set() and s.serves(guild_id)]
        session = serving[-1] if guild_id and serving else self.sessions[-1]
        await session.send(0, data, event)

    # --- REST plumbing ----------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=200 * 2**20, middlewares=[self._middleware])
        app.router.add_get("/gateway", self.gateway)
        api = "/api/v10"
        routes: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway),
            ("GET", "/users/@me", self.get_me),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/applications/{app}/commands", self.get_commands),
            ("PUT", "/applications/{app}/commands", self.put_commands),
            ("GET", "/applications/{app}/guilds/{guild}/commands", self.get_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self.put_commands),
            ("POST", "/interactions/{id}/{token}/callback", self.callback),
            ("POST", "/webhooks/{app}/{token}", self.followup),
            ("GET", "/webhooks/{app}/{token}/messages/{message}", self.get_webhook_message),
            ("PATCH", "/webhooks/{app}/{token}/messages/{message}", self.edit_webhook_message),
            ("DELETE", "/webhooks/{app}/{token}/messages/{message}", self.delete_webhook_message),
            ("GET", "/channels/{channel}", self.get_channel),
            ("POST", "/channels/{channel}/messages", self.create_message),
            ("GET", "/channels/{channel}/messages/{message}", self.get_message),
            ("PATCH", "/channels/{channel}/messages/{message}", self.edit_message),
            ("DELETE", "/channels/{channel}/messages/{message}", self.delete_message),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, api + path, handler)
        app.router.add_get("/cdn/attachments/{channel}/{id}/{filename}", self.cdn)
        return app

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = request.path
        if not path.startswith("/api/"):
            return await handler(request)
        self.requests.append((request.method, path))
        for prefix, count in list(self.inject_429.items()):
            if count > 0 and path.startswith(prefix):
                self.inject_429[prefix] -= 1
                self.rate_limited.append(path)
                return rate_limit_response(0.05)
        interaction_route = "/interactions/" in path or "/webhooks/" in path
        if not interaction_route:
            auth = request.headers.get("Authorization")
            if auth != f"Bot {self.token}":
                self.violate("401", f"{request.method} {path} without the bot token")
                return error(401, 0, "401: Unauthorized")
        else:
            token = request.match_info.get("token", "")
            window_max, window = self.config.interaction_budget
            stamps = self._budget[token]
            now = time.monotonic()
            while stamps and now - stamps[0] > window:
                stamps.popleft()
            if len(stamps) >= window_max:
                self.rate_limited.append(path)
                return rate_limit_response(window - (now - stamps[0]))
            stamps.append(now)
        return await handler(request)

    async def _body(self, request: web.Request) -> tuple[dict[str, Any], dict[int, StoredFile]]:
        """The JSON payload and uploaded files of a JSON or multipart request."""
        files: dict[int, StoredFile] = {}
        if request.content_type == "multipart/form-data":
            payload: dict[str, Any] = {}
            reader = await request.multipart()
            async for part in reader:
                name = part.name or ""  # type: ignore[union-attr]
                data = await part.read()  # type: ignore[union-attr]
                if name == "payload_json":
                    payload = json.loads(data)
                elif name.startswith("files["):
                    index = int(name[6:-1])
                    files[index] = stored_file(
                        part.filename or f"file{index}",  # type: ignore[union-attr]
                        bytes(data),
                        part.headers.get("Content-Type"),  # type: ignore[union-attr]
                    )
            return payload, files
        raw = await request.read()
        return (json.loads(raw) if raw else {}), files

    def _check_spec(self, request: web.Request, payload: dict[str, Any]) -> None:
        if self.spec is None:
            return
        for problem in self.spec.validate(request.method, request.path, payload):
            self.violate("openapi", f"{request.method} {request.path}: {problem}")

    def _check_message(
        self,
        where: str,
        payload: dict[str, Any],
        files: dict[int, StoredFile],
        limit: int,
        *,
        new: bool = False,
    ) -> web.Response | None:
        """Discord's limits on a message body; `new` messages must also show something."""
        for problem in rules.check_message(payload):
            self.violate("50035", f"{where}: {problem}")
            return error(400, 50035, f"Invalid Form Body: {problem}")
        count = max(len(payload.get("attachments") or []), len(files))
        if count > 10:
            self.violate("30015", f"{where}: {count} attachments (max 10)")
            return error(400, 30015, "Maximum number of attachments in a message reached (10)")
        if new and rules.is_empty(payload, len(files)):
            self.violate("50006", f"{where}: no content, embeds, attachments or components")
            return error(400, 50006, "Cannot send an empty message")
        for stored in files.values():
            if len(stored.data) > limit:
                self.violate(
                    "40005",
                    f"{where}: {stored.filename} is {len(stored.data)} bytes (limit {limit})",
                )
                return error(413, 40005, "Request entity too large")
        return None

    def _check_permissions(
        self,
        where: str,
        channel_id: int,
        payload: dict[str, Any],
        files: dict[int, StoredFile],
        *,
        ephemeral: bool = False,
    ) -> web.Response | None:
        """Uploads need ATTACH_FILES and embeds EMBED_LINKS in the channel, for interaction
        responses too; ephemeral messages are not checked."""
        if ephemeral:
            return None
        granted = self.channels[channel_id].bot_permissions
        for permission, name, used in (
            (ATTACH_FILES, "ATTACH_FILES", bool(files)),
            (EMBED_LINKS, "EMBED_LINKS", bool(payload.get("embeds"))),
        ):
            if used and not granted & permission:
                self.violate("50013", f"{where} in channel {channel_id} without {name}")
                return error(403, 50013, "Missing Permissions")
        return None

    def _attachments(
        self,
        channel_id: int,
        payload: dict[str, Any],
        files: dict[int, StoredFile],
        existing: list[dict[str, Any]] | None,
    ) -> list[dict[str, Any]]:
        """Discord's `attachments` rule: list what to keep and the new files by index."""
        listed = payload.get("attachments")
        if listed is None:
            keep = list(existing or [])
            new_indexes = sorted(files)
            described: dict[int, dict[str, Any]] = {}
        else:
            ids = {str(a.get("id")) for a in listed}
            keep = [a for a in (existing or []) if a["id"] in ids]
            described = {
                int(a["id"]): a
                for a in listed
                if isinstance(a.get("id"), int)
                or (str(a.get("id")).isdigit() and int(a["id"]) in files)
            }
            # Files the array does not reference are dropped, as Discord does.
            new_indexes = [i for i in sorted(files) if i in described]
        result = list(keep)
        for index in new_indexes:
            stored = files[index]
            attachment_id = snowflake()
            self.files[(channel_id, attachment_id)] = stored
            meta = described.get(index, {})
            url = f"{self.base_url}/cdn/attachments/{channel_id}/{attachment_id}/{stored.filename}"
            result.append(
                {
                    "id": str(attachment_id),
                    "filename": stored.filename,
                    "size": len(stored.data),
                    "url": url,
                    "proxy_url": url,
                    "content_type": stored.content_type,
                    "width": stored.width,
                    "height": stored.height,
                    "description": meta.get("description"),
                }
            )
        return result

    # --- simple resources ---------------------------------------------------------------

    async def get_gateway(self, request: web.Request) -> web.Response:
        url = self.base_url.replace("http", "ws", 1) + "/gateway"
        return ok(
            {
                "url": url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000 - self.identifies,
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def get_me(self, request: web.Request) -> web.Response:
        return ok(self.bot.to_json())

    async def get_application(self, request: web.Request) -> web.Response:
        return ok(
            {
                "id": str(self.application_id),
                "name": "Flux",
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": User(snowflake(), "owner").to_json(),
                "team": None,
                "flags": 0,
                "bot": self.bot.to_json(),
            }
        )

    def _commands_for(self, request: web.Request) -> list[dict[str, Any]]:
        guild = request.match_info.get("guild")
        return self.guild_commands.setdefault(int(guild), []) if guild else self.global_commands

    async def get_commands(self, request: web.Request) -> web.Response:
        return ok(self._commands_for(request))

    async def put_commands(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self._check_spec(request, payload)
        if not isinstance(payload, list):
            self.violate("50035", "command sync body is not a list")
            return error(400, 50035, "Invalid Form Body")
        problems = [p for command in payload for p in rules.check_command(command)]
        # Names are unique per type: a slash command and a message command may share one.
        names = [(c.get("type", 1), c.get("name")) for c in payload]
        if len(names) != len(set(names)):
            problems.append("duplicate command names")
        for kind, limit in ((2, 5), (3, 5)):
            if sum(1 for k, _ in names if k == kind) > limit:
                problems.append(f"more than {limit} context menu commands of type {kind}")
        if problems:
            for problem in problems:
                self.violate("50035", f"command sync: {problem}")
            return error(400, 50035, "Invalid Form Body: " + "; ".join(problems))
        guild = request.match_info.get("guild")
        stored = [
            {
                "type": 1,
                "description": "",  # Discord's answer always has one ("" for context menus)
                **command,
                "id": str(snowflake()),
                "application_id": str(self.application_id),
                "version": str(snowflake()),
                **({"guild_id": guild} if guild else {}),
                # Discord answers with permissions as a string, whatever was sent.
                "default_member_permissions": (
                    None
                    if command.get("default_member_permissions") is None
                    else str(command["default_member_permissions"])
                ),
            }
            for command in payload
        ]
        if guild:
            self.guild_commands[int(guild)] = stored
        else:
            self.global_commands = stored
        await self.notify()
        return ok(stored)

    async def cdn(self, request: web.Request) -> web.Response:
        key = (int(request.match_info["channel"]), int(request.match_info["id"]))
        stored = self.files.get(key)
        if stored is None:
            return web.Response(status=404)
        return web.Response(
            body=stored.data, content_type=stored.content_type or "application/octet-stream"
        )

    # --- interactions -----------------------------------------------------------------

    def _interaction(self, request: web.Request) -> Interaction | web.Response:
        token = request.match_info["token"]
        interaction = self.interactions.get(token)
        if interaction is None:
            where = request.path.replace(token, "{token}")
            self.violate("50027", f"{request.method} {where} with an unknown interaction token")
            return error(401, 50027, "Invalid Webhook Token")
        if time.monotonic() > interaction.expires:
            self.violate("50027", f"interaction {interaction.id} token used after it expired")
            return error(401, 50027, "Invalid Webhook Token")
        return interaction

    async def callback(self, request: web.Request) -> web.Response:
        interaction = self.interactions.get(request.match_info["token"])
        if interaction is None or str(interaction.id) != request.match_info["id"]:
            return error(404, 10062, "Unknown interaction")
        payload, files = await self._body(request)
        self._check_spec(request, payload)
        late = time.monotonic() - interaction.created
        if late > self.config.response_deadline:
            self.violate("10062", f"interaction {interaction.id} answered after {late:.2f} s")
            return error(404, 10062, "Unknown interaction")
        if interaction.acked:
            self.violate("40060", f"interaction {interaction.id} acknowledged twice")
            return error(400, 40060, "Interaction has already been acknowledged.")
        kind = payload.get("type")
        data = payload.get("data") or {}
        # An autocomplete (type 4) is answered with choices (type 8), and only with them.
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[interaction.type]
        if kind not in allowed:
            self.violate(
                "50035", f"callback type {kind} not allowed for interaction type {interaction.type}"
            )
            return error(400, 50035, "Invalid interaction response type")
        if kind == 9:
            problems = rules.check_modal(data)
            if problems:
                self.violate("50035", f"modal: {'; '.join(problems)}")
                return error(400, 50035, "Invalid Form Body")
        elif kind == 8:
            problems = rules.check_choices(data.get("choices"))
            if problems:
                self.violate("50035", f"autocomplete: {'; '.join(problems)}")
                return error(400, 50035, "Invalid Form Body")
        elif kind in (4, 7):
            where = f"callback type {kind}"
            if kind == 4:
                ephemeral = bool(int(data.get("flags") or 0) & 64)
            else:  # type 7 updates the message the component is on
                source = self.messages.get(interaction.source_id or 0)
                ephemeral = source is not None and source.ephemeral
            refusal = self._check_message(
                where, data, files, interaction.upload_limit, new=kind == 4
            ) or self._check_permissions(
                where, interaction.channel_id, data, files, ephemeral=ephemeral
            )
            if refusal:
                return refusal
        interaction.acked = True
        interaction.acked_at = time.monotonic()
        interaction.response_type = kind
        message: Message | None = None
        if kind in (4, 5):
            flags = int(data.get("flags") or 0)
            interaction.ephemeral = bool(flags & 64)
            message = Message(
                id=snowflake(),
                channel_id=interaction.channel_id,
                guild_id=interaction.guild_id,
                author=self.bot,
                content=data.get("content") or "",
                embeds=data.get("embeds") or [],
                components=data.get("components") or [],
                flags=(flags & 64) | (128 if kind == 5 else 0),
                type=20,
                interaction_id=interaction.id,
                webhook_id=self.application_id,
                application_id=self.application_id,
            )
            message.attachments = self._attachments(interaction.channel_id, data, files, None)
            self.messages[message.id] = message
            interaction.original_id = message.id
            self.record("create", message)
        elif kind in (6, 7):
            # Updating a component's message: "@original" now means that message.
            interaction.original_id = interaction.source_id
            source = self.messages.get(interaction.original_id or 0)
            if source is not None and kind == 7:
                self._apply_edit(source, data, files)
        elif kind == 9:
            interaction.modal = data
        elif kind == 8:
            interaction.choices = list(data.get("choices") or [])
        await self.notify()
        response: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": interaction.ephemeral,
                "activity_instance_id": None,
            },
            "resource": {"type": kind},
        }
        if message is not None:
            response["resource"]["message"] = message.to_json()
        if request.query.get("with_response") in ("1", "true", "True"):
            return ok(response)
        return web.Response(status=204)

    def _apply_edit(
        self, message: Message, payload: dict[str, Any], files: dict[int, StoredFile]
    ) -> None:
        if "content" in payload:
            message.content = payload["content"] or ""
        if "embeds" in payload:
            message.embeds = payload["embeds"] or []
        if "components" in payload:
            message.components = payload["components"] or []
        if "attachments" in payload or files:
            message.attachments = self._attachments(
                message.channel_id, payload, files, message.attachments
            )
        message.flags &= ~128
        message.edited = iso()
        self.record("edit", message)

    def _webhook_message(self, interaction: Interaction, ref: str) -> Message | None:
        message_id = interaction.original_id if ref == "@original" else int(ref)
        message = self.messages.get(message_id or 0)
        if message is None or message.deleted:
            return None
        if message.interaction_id != interaction.id and message.id != interaction.original_id:
            return None
        return message

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request)
        if isinstance(interaction, web.Response):
            return interaction
        message = self._webhook_message(interaction, request.match_info["message"])
        return ok(message.to_json()) if message else error(404, 10008, "Unknown Message")

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request)
        if isinstance(interaction, web.Response):
            return interaction
        payload, files = await self._body(request)
        self._check_spec(request, payload)
        ref = request.match_info["message"]
        message = self._webhook_message(interaction, ref)
        if message is None:
            self.violate("10008", f"edit of unknown webhook message {ref}")
            return error(404, 10008, "Unknown Message")
        refusal = self._check_message(
            "edit", payload, files, interaction.upload_limit
        ) or self._check_permissions(
            "edit", message.channel_id, payload, files, ephemeral=message.ephemeral
        )
        if refusal:
            return refusal
        self._apply_edit(message, payload, files)
        await self.notify()
        return ok(message.to_json())

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request)
        if isinstance(interaction, web.Response):
            return interaction
        ref = request.match_info["message"]
        message = self._webhook_message(interaction, ref)
        if message is None:
            self.violate("10008", f"delete of unknown webhook message {ref}")
            return error(404, 10008, "Unknown Message")
        message.deleted = True
        self.record("delete", message)
        await self.notify()
        return web.Response(status=204)

    async def followup(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request)
        if isinstance(interaction, web.Response):
            return interaction
        if not interaction.acked:
            self.violate("10015", f"follow-up before interaction {interaction.id} was acknowledged")
            return error(404, 10015, "Unknown Webhook")
        if interaction.type == 4:
            self.violate("10015", f"follow-up to autocomplete {interaction.id}: it has no messages")
            return error(404, 10015, "Unknown Webhook")
        payload, files = await self._body(request)
        self._check_spec(request, payload)
        flags = int(payload.get("flags") or 0)
        # A follow-up right after a defer fills the "thinking…" message, ephemeral or not.
        loading = self.messages.get(interaction.original_id or 0)
        if loading is not None and (loading.deleted or not loading.loading):
            loading = None
        ephemeral = loading.ephemeral if loading is not None else bool(flags & 64)
        refusal = self._check_message(
            "follow-up", payload, files, interaction.upload_limit, new=True
        ) or self._check_permissions(
            "follow-up", interaction.channel_id, payload, files, ephemeral=ephemeral
        )
        if refusal:
            return refusal
        if loading is not None:
            self._apply_edit(loading, payload, files)
            await self.notify()
            return ok(loading.to_json())
        message = Message(
            id=snowflake(),
            channel_id=interaction.channel_id,
            guild_id=interaction.guild_id,
            author=self.bot,
            content=payload.get("content") or "",
            embeds=payload.get("embeds") or [],
            components=payload.get("components") or [],
            flags=flags & 64,
            interaction_id=interaction.id,
            webhook_id=self.application_id,
            application_id=self.application_id,
        )
        message.attachments = self._attachments(interaction.channel_id, payload, files, None)
        self.messages[message.id] = message
        interaction.followups.append(message.id)
        self.record("create", message)
        await self.notify()
        return ok(message.to_json())

    # --- channel messages -------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self.channels.get(int(request.match_info["channel"]))
        return ok(channel.to_json()) if channel else error(404, 10003, "Unknown Channel")

    def _channel(self, request: web.Request) -> Channel | web.Response:
        channel = self.channels.get(int(request.match_info["channel"]))
        if channel is None:
            return error(404, 10003, "Unknown Channel")
        return channel

    async def create_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        payload, files = await self._body(request)
        self._check_spec(request, payload)
        guild = self.guilds[channel.guild_id]
        if not channel.bot_permissions & SEND_MESSAGES:
            self.violate("50013", f"channel message in channel {channel.id} without SEND_MESSAGES")
            return error(403, 50013, "Missing Permissions")
        refusal = self._check_message(
            "channel message", payload, files, guild.upload_limit, new=True
        ) or self._check_permissions("channel message", channel.id, payload, files)
        if refusal:
            return refusal
        message = Message(
            id=snowflake(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=self.bot,
            content=payload.get("content") or "",
            embeds=payload.get("embeds") or [],
            components=payload.get("components") or [],
        )
        message.attachments = self._attachments(channel.id, payload, files, None)
        self.messages[message.id] = message
        self.record("create", message)
        await self.notify()
        return ok(message.to_json())

    def _channel_message(self, request: web.Request) -> Message | web.Response:
        message = self.messages.get(int(request.match_info["message"]))
        if (
            message is None
            or message.deleted
            or message.channel_id != int(request.match_info["channel"])
        ):
            return error(404, 10008, "Unknown Message")
        if message.ephemeral:
            self.violate(
                "10008",
                f"{request.method} of ephemeral message {message.id} through the channel "
                "(only its interaction token reaches it)",
            )
            return error(404, 10008, "Unknown Message")
        return message

    async def get_message(self, request: web.Request) -> web.Response:
        message = self._channel_message(request)
        return message if isinstance(message, web.Response) else ok(message.to_json())

    async def edit_message(self, request: web.Request) -> web.Response:
        message = self._channel_message(request)
        if isinstance(message, web.Response):
            return message
        payload, files = await self._body(request)
        self._check_spec(request, payload)
        guild = self.guilds[self.channels[message.channel_id].guild_id]
        refusal = self._check_message("channel edit", payload, files, guild.upload_limit)
        if refusal:
            return refusal
        self._apply_edit(message, payload, files)
        await self.notify()
        return ok(message.to_json())

    async def delete_message(self, request: web.Request) -> web.Response:
        message = self._channel_message(request)
        if isinstance(message, web.Response):
            return message
        message.deleted = True
        self.record("delete", message)
        await self.notify()
        return web.Response(status=204)


def rules_permissions() -> int:
    from tests.discord_standin.state import MEMBER_PERMISSIONS

    return MEMBER_PERMISSIONS


def rate_limit_response(retry_after: float) -> web.Response:
    """A real per-route 429: `Via` present (else discord.py treats it as a Cloudflare ban)."""
    retry_after = max(0.01, retry_after)
    body = {
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": False,
        "code": 0,
    }
    headers = {
        "Via": "1.1 google",
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Bucket": "stand-in-bucket",
        "X-RateLimit-Scope": "user",
        "Retry-After": str(max(1, round(retry_after))),
    }
    return json_response(body, 429, headers)


def stored_file(filename: str, data: bytes, content_type: str | None) -> StoredFile:
    width = height = None
    with contextlib.suppress(Exception), Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        content_type = (
            content_type
            if content_type and content_type.startswith("image/")
            else Image.MIME.get(image.format or "")
        )
    return StoredFile(filename, data, content_type, width, height)
