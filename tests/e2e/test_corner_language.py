"""The member's corner in the member's language, end to end: a member whose Discord is in
German reads /flux-help, /flux-settings and the /flux-forget-me confirmation in German, while
another member of the same server keeps English."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.discord_standin import LocalDiscord
from tests.e2e.test_settings import settings


@pytest.fixture
def alice_in_german(discord_standin: LocalDiscord) -> Iterator[None]:
    """Alice's interactions say `locale: de` (the stand-in sends en-US for everyone)."""
    base = discord_standin._base
    alice = discord_standin.members["alice"].id

    def localized(kind: int, user: Any, *args: Any, **kwargs: Any) -> Any:
        payload, state = base(kind, user, *args, **kwargs)
        if user.id == alice:
            payload["locale"] = "de"
        return payload, state

    discord_standin._base = localized  # type: ignore[method-assign]
    yield
    discord_standin._base = base  # type: ignore[method-assign]


async def test_a_german_member_reads_help_settings_and_forget_me_in_german(
    bot: object, discord_standin: LocalDiscord, alice_in_german: None
) -> None:
    helped = await (await discord_standin.invoke("flux-help", user="alice")).wait_original()
    assert helped.embeds[0]["title"] == "FLUX.2 [max] Bild-Bot"
    # Every /flux option (the further reference images aside) is named as Discord shows it to
    # her: by the names the bot registered.
    for option in discord_standin.commands["flux"]["options"]:
        if option["name"] in {"image2", "image3", "image4"}:
            continue
        german = (option.get("name_localizations") or {}).get("de", option["name"])
        assert f"`{german}`" in helped.embeds[0]["description"], option["name"]
    assert helped.embeds[0]["fields"][0]["name"] == "Was ich über dich speichere"
    english = await (await discord_standin.invoke("flux-help", user="bob")).wait_original()
    assert english.embeds[0]["title"] == "FLUX.2 [max] image bot"

    shown = await settings(discord_standin, "show")
    assert shown.embeds[0]["title"] == "Deine Standardwerte auf diesem Server"
    assert shown.embeds[0]["description"].startswith("Noch keine: `/flux` nutzt")
    saved = await settings(discord_standin, "set", aspect_ratio="16:9")
    assert saved.embeds[0]["title"] == "Deine Standardwerte sind gespeichert"
    bobs = await settings(discord_standin, "show", user="bob")
    assert bobs.embeds[0]["description"].startswith("None yet")

    asked = await discord_standin.invoke("flux-forget-me", user="alice")
    confirmation = await asked.wait_original()
    assert confirmation.content.startswith("**Mich vergessen?**")
    labels = [c.get("label") for row in confirmation.components for c in row["components"]]
    assert labels == ["Mich vergessen", "Alles behalten"]
    [_, keep] = confirmation.custom_ids()
    await discord_standin.click(confirmation, keep, user="alice")
    await discord_standin.wait_for(lambda: not confirmation.components, timeout=10)
    assert confirmation.content == "Nichts wurde gelöscht."
