"""Presets end to end: saved with /flux-settings preset, picked in /flux through Discord's
autocomplete, limited in number."""

from __future__ import annotations

from tests.conftest import ApiframeSandbox
from tests.discord_standin import LocalDiscord
from tests.discord_standin.helpers import InteractionHandle
from tests.e2e.test_flux import done, submitted
from tests.e2e.test_settings import settings


async def choices(handle: InteractionHandle, standin: LocalDiscord) -> list[dict[str, str]]:
    await standin.wait_for(lambda: handle.state.choices is not None)
    assert handle.state.response_type == 8
    return handle.state.choices or []


async def test_a_preset_picked_through_autocomplete(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Alice saves her defaults with a suffix as "Cinema"; typing "cin" in /flux's preset
    offers it (Bob is offered nothing); the chosen preset's settings and suffix reach
    Apiframe over her current defaults; an unknown name is refused before anything runs."""
    await settings(discord_standin, "set", aspect_ratio="16:9", format="png")
    saved = await settings(discord_standin, "preset save", name="Cinema", suffix="on 35 mm film")
    assert saved.embeds[0]["title"] == "Preset “Cinema” saved"
    await settings(discord_standin, "reset")
    await settings(discord_standin, "set", resolution="0.5MP", format="webp")

    typing = await discord_standin.autocomplete(
        "flux", "preset", "cin", options={"prompt": "a harbour"}
    )
    offered = await choices(typing, discord_standin)
    assert offered == [
        {"name": "Cinema — Aspect 16:9 · Format PNG + “on 35 mm film”", "value": "Cinema"}
    ]
    bobs = await discord_standin.autocomplete("flux", "preset", "", user="bob")
    assert await choices(bobs, discord_standin) == []

    handle = await discord_standin.invoke(
        "flux", options={"prompt": "a harbour", "preset": offered[0]["value"]}
    )
    await handle.wait_original(done, timeout=20)
    [body] = submitted(apiframe)
    assert body["prompt"] == "a harbour on 35 mm film"
    params = body["fluxParams"]
    assert (params["resolution"], params["aspect_ratio"], params["output_format"]) == (
        "0.5MP",
        "16:9",
        "png",
    )
    unknown = await discord_standin.invoke("flux", options={"prompt": "x", "preset": "noir"})
    refusal = await unknown.wait_original()
    assert refusal.ephemeral
    assert "no preset called “noir”" in refusal.content
    assert len(submitted(apiframe)) == 1


async def test_presets_are_limited_listed_and_deleted(
    bot: object, discord_standin: LocalDiscord
) -> None:
    """At most ten presets, with a clear message; the list shows them; delete takes a name
    offered by autocomplete; nothing to save is said so."""
    empty = await settings(discord_standin, "preset save", name="nothing")
    assert "Nothing to save yet" in empty.content
    for n in range(10):
        await settings(discord_standin, "preset save", name=f"style {n}", suffix=f"look {n}")
    refused = await settings(discord_standin, "preset save", name="eleven", suffix="x")
    assert "already have 10 presets" in refused.content
    listed = await settings(discord_standin, "preset list")
    assert listed.embeds[0]["description"].splitlines()[0] == "style 0 — + “look 0”"
    typing = await discord_standin.autocomplete(
        "flux-settings", "name", "7", subcommand="preset delete"
    )
    [offered] = await choices(typing, discord_standin)
    gone = await settings(discord_standin, "preset delete", name=offered["value"])
    assert gone.content == "Preset “style 7” deleted."
    again = await settings(discord_standin, "preset delete", name="style 7")
    assert "no preset called" in again.content
