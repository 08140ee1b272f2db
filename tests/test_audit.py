"""The audit log's batching and retry, with a channel that fails like Discord does."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import discord

from bot.i18n import t
from bot.jobs.request import generate
from bot.moderation.gate import Refusal
from bot.moderation.policy import Check, GuildPolicy
from bot.storage.jobs import JobRecord
from cogs.audit import AuditLog, budget_entry, generation_entry, refusal_entry


class FlakyChannel(discord.abc.Messageable):
    """Answers the first `failures` sends with a 503, then takes them."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[list[discord.Embed]] = []

    async def _get_channel(self) -> Any:
        return self

    async def send(self, content: str | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        if self.failures:
            self.failures -= 1
            raise discord.DiscordServerError(SimpleNamespace(status=503, reason="busy"), "busy")
        self.sent.append(kwargs["embeds"])


class FakeBot:
    def __init__(
        self, channel: FlakyChannel, *, locale: str = "en-US", language: str | None = None
    ) -> None:
        self.channel = channel
        self.locale = locale
        self.language = language

    async def guild_policy(self, guild_id: int | None) -> GuildPolicy:
        return GuildPolicy(audit_channel_id=7, language=self.language)

    def get_guild(self, guild_id: int) -> Any:
        return SimpleNamespace(id=guild_id, preferred_locale=self.locale)

    def get_channel(self, channel_id: int) -> FlakyChannel:
        return self.channel


async def test_entries_survive_a_discord_outage_and_are_posted_in_batches() -> None:
    channel = FlakyChannel(failures=2)
    log = AuditLog(FakeBot(channel), flush_seconds=0.05)  # type: ignore[arg-type]
    for n in range(12):
        await log.record(1, discord.Embed(title=f"entry {n}"))
    async with asyncio.timeout(5):
        while sum(len(batch) for batch in channel.sent) < 12:
            await asyncio.sleep(0.02)
    await log.close()
    assert [len(batch) for batch in channel.sent] == [10, 2]
    assert [e.title for batch in channel.sent for e in batch] == [f"entry {n}" for n in range(12)]


WHEN = discord.utils.utcnow()
REFUSAL = Refusal(check=Check.PROMPT, reason=t("Please rephrase it."), detail="blocked word")


async def posted(bot: FakeBot, *entries: Any) -> list[discord.Embed]:
    log = AuditLog(bot, flush_seconds=60)  # type: ignore[arg-type]
    for entry in entries:
        await log.record(1, entry)
    await log.flush()
    return [embed for batch in bot.channel.sent for embed in batch]


def refusal() -> Any:
    return refusal_entry(REFUSAL, user_id=5, channel_id=9, prompt="a kraken", when=WHEN)


async def test_entries_are_written_in_the_servers_language() -> None:
    """Everyone in the audit channel reads them: the server's Community language, unless the
    moderators chose one; the rule that refused stays the English `detail`."""
    german = await posted(FakeBot(FlakyChannel(0), locale="de"), refusal())
    assert german[0].title == "Abgelehnt: Prompt"
    assert [(f.name, f.value) for f in german[0].fields] == [
        ("Mitglied", "<@5>"),
        ("Kanal", "<#9>"),
        ("Regel", "blocked word"),
    ]
    chosen = await posted(FakeBot(FlakyChannel(0), locale="de", language="ja"), refusal())
    assert chosen[0].title == "拒否: プロンプト"
    english = await posted(FakeBot(FlakyChannel(0), locale="ko"), refusal())
    assert english[0].title == "Refused: prompt"


def test_budget_entries_in_french_with_grouped_numbers() -> None:
    warning = budget_entry(percent=66, spent=1400, budget=2100, stopped=False)
    assert warning("fr").title == "Budget mensuel utilisé : 66 %"
    assert warning("fr").description == (
        "1\u202f400 sur 2\u202f100 crédits dépensés ou réservés ce mois-ci."
    )
    assert warning("en").title == "Monthly budget used: 66 %"
    assert warning("en").description == "1,400 of 2,100 credits spent or reserved this month."
    stop = budget_entry(percent=100, spent=21, budget=21, stopped=True)
    assert stop("en").title == "Monthly budget used up: generation is paused until next month"
    assert stop("de").title == (
        "Monatsbudget aufgebraucht: Das Erzeugen ist bis zum nächsten Monat pausiert"
    )


def test_a_generation_entry_in_german() -> None:
    job = JobRecord.model_construct(
        id="j1",
        kind="generate",
        source="command",
        guild_id=1,
        channel_id=9,
        user_id=5,
        prompt="a lighthouse",
        request=generate(default_resolution="1MP", seed=42),
        credit_cost=7,
        private=False,
        delivered_at=WHEN,
        delivery_channel_message_id=77,
        response_message_id=None,
        parent_job_id=None,
    )
    embed = generation_entry(job)("de")
    assert embed.title == "Bild erzeugt"
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Kosten"] == "7 Credits"
    assert fields["Ergebnis"] == "[Zum Bild springen](https://discord.com/channels/1/9/77)"
    assert embed.footer.text == "Auftrag j1 · generate · command"
    english = generation_entry(job)("en")
    assert {f.name: f.value for f in english.fields}["Cost"] == "7 credits"


async def test_the_dropped_notice_is_in_the_servers_language() -> None:
    channel = FlakyChannel(failures=0)
    log = AuditLog(FakeBot(channel, locale="es-419"), flush_seconds=60)  # type: ignore[arg-type]
    for n in range(502):
        await log.record(1, discord.Embed(title=f"entry {n}"))
    sent: list[str | None] = []
    original = channel.send

    async def send(content: str | None = None, **kwargs: Any) -> Any:
        sent.append(content)
        return await original(content, **kwargs)

    channel.send = send  # type: ignore[method-assign]
    await log.flush()
    assert sent[0] == "(2 entradas anteriores se perdieron mientras Discord estaba saturado)"
