"""A member's own defaults end to end: /flux-settings in the local Discord, applied by /flux,
the "Edit with FLUX" menu and the buttons, capped by the server's limits."""

from __future__ import annotations

from typing import Any

from tests.conftest import ApiframeSandbox
from tests.discord_standin import LocalDiscord
from tests.discord_standin.state import Message
from tests.e2e.test_edit import modal_ids, open_menu
from tests.e2e.test_flux import done, png, submitted
from tests.e2e.test_moderation import admin, ready


async def settings(standin: LocalDiscord, sub: str, user: str = "alice", **options: Any) -> Message:
    """Run `/flux-settings <sub>` and return the (private) answer."""
    handle = await standin.invoke("flux-settings", user=user, subcommand=sub, options=options)
    answer = await handle.wait_original(ready)
    assert answer.ephemeral
    return answer


def shown(answer: Message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in answer.embeds[0].get("fields", [])}


async def generated(standin: LocalDiscord, user: str = "alice", **options: Any) -> Message:
    handle = await standin.invoke("flux", user=user, options={"prompt": "a kite", **options})
    return await handle.wait_original(done, timeout=20)


async def test_defaults_apply_yield_to_typed_options_and_are_the_members_own(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Alice's defaults reach Apiframe; an option she types wins over one; Bob's /flux is
    untouched; show and reset say what is in force."""
    saved = await settings(
        discord_standin, "set", resolution="0.5MP", aspect_ratio="16:9", format="png"
    )
    assert shown(saved) == {"Resolution": "0.5 MP", "Aspect": "16:9", "Format": "PNG"}
    await generated(discord_standin)
    await generated(discord_standin, aspect_ratio="1:1")
    await generated(discord_standin, user="bob")
    mine, typed, bobs = (body["fluxParams"] for body in submitted(apiframe))
    assert (mine["resolution"], mine["aspect_ratio"], mine["output_format"]) == (
        "0.5MP",
        "16:9",
        "png",
    )
    assert (typed["resolution"], typed["aspect_ratio"], typed["output_format"]) == (
        "0.5MP",
        "1:1",
        "png",
    )
    assert (bobs["resolution"], bobs["aspect_ratio"], bobs["output_format"]) == (
        "1MP",
        "1:1",
        "jpg",
    )
    assert shown(await settings(discord_standin, "show", user="bob")) == {}
    assert "cleared" in (await settings(discord_standin, "reset")).content
    assert "None yet" in (await settings(discord_standin, "show")).embeds[0]["description"]
    set_nothing = await discord_standin.invoke("flux-settings", subcommand="set")
    assert "at least one option" in (await set_nothing.wait_original()).content


async def test_a_default_over_the_servers_limit_is_capped_and_said(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """A default of 4 MP where the server allows 1 MP makes a 1 MP image, and Alice is told
    privately; typed, 4 MP is refused as before."""
    discord_standin.add_member("staff", roles=[discord_standin.staff_role])
    await admin(discord_standin, "features", max_resolution="1MP")
    saved = await settings(discord_standin, "set", resolution="4MP")
    assert shown(saved)["In this server"] == "Your default 4 MP is capped to 1 MP here."
    handle = await discord_standin.invoke("flux", options={"prompt": "a big kite"})
    final = await handle.wait_original(done, timeout=20)
    assert submitted(apiframe)[0]["fluxParams"]["resolution"] == "1MP"
    assert not final.ephemeral
    [note] = handle.followups
    assert note.ephemeral
    assert note.content == "Your default 4 MP is capped to 1 MP here."
    typed = await discord_standin.invoke("flux", options={"prompt": "x", "resolution": "4MP"})
    await discord_standin.wait_for(lambda: bool(typed.followups))
    assert "largest size you can use here is 1 MP" in typed.followups[0].content
    assert len(submitted(apiframe)) == 1


async def test_a_private_default_reaches_the_menu_and_the_buttons(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """private:true as a default: /flux, "Edit with FLUX" and a Reroll on Bob's public image
    are all private to Alice; private:false typed makes a public one."""
    bobs = await generated(discord_standin, user="bob")
    await settings(discord_standin, "set", private=True, format="webp")
    assert (await generated(discord_standin)).ephemeral
    assert not (await generated(discord_standin, private=False)).ephemeral

    post = discord_standin.post("bob", "a sketch", files=[("a.png", png(), "image/png")])
    opened = await open_menu(discord_standin, post)
    [prompt_id, _strength] = modal_ids(opened)
    edited = await discord_standin.submit_modal(opened, {prompt_id: "in ink"})
    assert (await edited.wait_original(done, timeout=20)).ephemeral

    reroll = next(c for c in bobs.custom_ids() if c.startswith("flux:reroll:"))
    again = await discord_standin.click(bobs, reroll)
    assert (await again.wait_original(done, timeout=20)).ephemeral
    formats = [body["fluxParams"]["output_format"] for body in submitted(apiframe)]
    # Reroll keeps Bob's image's own settings; the rest take Alice's default format.
    assert formats == ["jpg", "webp", "webp", "webp", "jpg"]
