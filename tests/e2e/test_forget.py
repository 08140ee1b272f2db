"""/flux-forget-me end to end: it removes everything it should and nothing else."""

from __future__ import annotations

from tests.conftest import ApiframeSandbox
from tests.discord_standin import LocalDiscord
from tests.discord_standin.state import Message
from tests.e2e.test_history import generated, history
from tests.e2e.test_moderation import admin, ready
from tests.e2e.test_settings import settings
from tests.e2e.test_tools import button


async def forget(standin: LocalDiscord, answer: str, user: str = "alice") -> Message:
    asked = await standin.invoke("flux-forget-me", user=user)
    confirmation = await asked.wait_original()
    assert confirmation.ephemeral
    assert "cannot be undone" in confirmation.content
    [yes, no] = confirmation.custom_ids()
    await standin.click(confirmation, yes if answer == "yes" else no, user=user)
    await standin.wait_for(lambda: not confirmation.components, timeout=10)
    return confirmation


async def test_forget_me_removes_the_member_and_nothing_else(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """After "Keep everything" nothing changes; after "Forget me" Alice's history, defaults,
    presets and prompts are gone, her image's buttons no longer work from its prompt, her
    count today stays (no fresh quota); Bob's history and defaults and the server's usage
    totals are as they were."""
    discord_standin.add_member("staff", roles=[discord_standin.staff_role])
    [public] = await generated(discord_standin, ["alice's lighthouse"])
    await generated(discord_standin, ["alice's secret"], private=True)
    await generated(discord_standin, ["bob's boat"], user="bob")
    await settings(discord_standin, "set", resolution="2MP")
    await settings(discord_standin, "preset save", name="mine", suffix="in oil")
    await settings(discord_standin, "set", user="bob", aspect_ratio="4:3")
    totals = (await admin(discord_standin, "usage", period="month")).embeds[0]["description"]

    kept = await forget(discord_standin, "no")
    assert kept.content == "Nothing was deleted."
    assert len((await history(discord_standin)).embeds) == 2

    done_message = await forget(discord_standin, "yes")
    assert done_message.content.startswith(
        "Done. I deleted the prompts and image links of 2 images, your defaults in 1 server"
        " and 1 preset."
    )
    empty = await history(discord_standin)
    assert empty.content.startswith("You have no images here yet")
    assert "None yet" in (await settings(discord_standin, "show")).embeds[0]["description"]
    assert "no presets" in (await settings(discord_standin, "preset list")).content
    alice = discord_standin.members["alice"].id
    stored = [j for j in await bot.store.by_states({"delivered"}) if j.user_id == alice]  # type: ignore[attr-defined]
    assert [(j.prompt, j.result_urls, j.scrubbed) for j in stored] == [("", [], "forgotten")] * 2

    reroll = await discord_standin.click(public, button(public, "reroll"), user="bob")
    await discord_standin.wait_for(lambda: bool(reroll.followups))
    assert "no longer keep this image's prompt" in reroll.followups[0].content

    usage = await discord_standin.invoke("flux-usage")
    today = {f["name"]: f["value"] for f in (await usage.wait_original(ready)).embeds[0]["fields"]}
    assert today["Today"].startswith("2 used")  # forgetting is no way to a fresh quota
    bobs = await history(discord_standin, user="bob")
    assert [e["description"] for e in bobs.embeds] == ["bob's boat"]
    assert shown_defaults(await settings(discord_standin, "show", user="bob")) == {"Aspect": "4:3"}
    after = (await admin(discord_standin, "usage", period="month")).embeds[0]["description"]
    assert after == totals
    assert apiframe.sandbox.stats["created"] == 3  # the click made nothing


def shown_defaults(answer: Message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in answer.embeds[0].get("fields", [])}


async def test_a_confirmation_is_only_its_members(
    bot: object, discord_standin: LocalDiscord
) -> None:
    """Bob cannot answer Alice's confirmation (were he to see it)."""
    asked = await discord_standin.invoke("flux-forget-me")
    confirmation = await asked.wait_original()
    bobs = await discord_standin.click(confirmation, confirmation.custom_ids()[0], user="bob")
    refusal = await bobs.wait_original()
    assert refusal.ephemeral
    assert "another member's confirmation" in refusal.content
    assert confirmation.components  # still waiting for Alice
