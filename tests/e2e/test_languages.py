"""Languages end to end: a member's `/flux` answers in their Discord's language, while a post
in the channel, which everyone there reads, is in the server's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ApiframeSandbox
from tests.discord_standin import LocalDiscord
from tests.discord_standin.state import Message
from tests.e2e.test_flux import done


def _fields(message: Message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0]["fields"]}


def _labels(message: Message) -> dict[str, str]:
    return {
        child["custom_id"].split(":")[1]: child.get("label", "")
        for row in message.components
        for child in row.get("components", [])
    }


async def test_a_german_member_gets_german_progress_and_result_in_a_french_server(
    bot: Any, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """The interaction's own answer follows the member (`de`), not the server (`fr`):
    progress, the result's fields, its buttons and footer."""
    await discord_standin.set_preferred_locale("fr")
    hans = discord_standin.add_member("hans", locale="de")
    apiframe.sandbox.config.processing_seconds = 1
    handle = await discord_standin.invoke("flux", user=hans, options={"prompt": "ein Leuchtturm"})
    final = await handle.wait_original(done, timeout=20)
    titles = [
        str(e.embeds[0].get("title"))
        for e in discord_standin.server.timeline
        if e.message_id == final.id and e.embeds and not e.attachments
    ]
    assert titles
    assert set(titles) <= {"In der Warteschlange…", "Bei Apiframe eingereiht…", "Wird erzeugt…",
                           "Wird abgeschlossen…"}, titles  # fmt: skip
    fields = _fields(final)
    assert fields["Angefordert von"] == f"<@{hans.id}>"
    assert "Dauer" in fields
    assert final.embeds[0]["footer"]["text"].startswith("FLUX.2 [max] · Auftrag ")
    labels = _labels(final)
    assert (labels["pan-left"], labels["pan-up"]) == ("Links", "Oben")
    # Alice's Discord is in English: the same bot answers her in English, side by side.
    english = await discord_standin.invoke("flux", user="alice", options={"prompt": "a fox"})
    assert "Requested by" in _fields(await english.wait_original(done, timeout=20))


@pytest.mark.parametrize(
    ("chosen", "mention", "requested"),
    [(None, "ton image est prête.", "Demandé par"), ("es", "tu imagen está lista.", "Pedido por")],
)
async def test_a_result_posted_in_the_channel_follows_the_servers_language(
    bot: Any,
    discord_standin: LocalDiscord,
    apiframe: ApiframeSandbox,
    chosen: str | None,
    mention: str,
    requested: str,
) -> None:
    """The German member dismisses the "thinking…" message, so the image is posted in the
    channel for everyone: in the language a moderator chose (`/flux-admin language`), else the
    server's Community language (`fr`) — while its progress was in German."""
    await discord_standin.set_preferred_locale("fr")
    if chosen:
        await bot.guild_store.change(discord_standin.guild.id, bot.policy_defaults, language=chosen)
    hans = discord_standin.add_member("hans", locale="de")
    apiframe.sandbox.config.processing_seconds = 2
    handle = await discord_standin.invoke("flux", user=hans, options={"prompt": "ein Drachen"})
    first = await handle.wait_original(lambda m: bool(m.embeds), timeout=10)
    assert first.embeds[0]["title"] in {"In der Warteschlange…", "Bei Apiframe eingereiht…",
                                        "Wird erzeugt…"}  # fmt: skip
    first.deleted = True  # as when the member dismisses it
    await discord_standin.wait_for(
        lambda: any(m.attachments for m in discord_standin.messages()), timeout=20
    )
    posted = next(m for m in discord_standin.messages() if m.attachments)
    assert posted.interaction_id is None
    assert posted.content == f"<@{hans.id}>, {mention}"
    assert _fields(posted)[requested] == f"<@{hans.id}>"
    # One edit found the message gone (Discord: 10008, as it would); the bot tried no more.
    assert ["10008" in v for v in discord_standin.violations] == [True]
    discord_standin.server.violations.clear()
