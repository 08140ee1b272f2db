"""/flux-history end to end: a member's own images in pages, filters, and Show and Share
posting working images again from Apiframe's URL (or saying it expired)."""

from __future__ import annotations

from typing import Any

from tests.conftest import ApiframeSandbox
from tests.discord_standin import LocalDiscord
from tests.discord_standin.helpers import InteractionHandle
from tests.discord_standin.state import Message
from tests.e2e.test_flux import done, submitted
from tests.e2e.test_moderation import admin, ready
from tests.e2e.test_tools import button


async def generated(standin: LocalDiscord, prompts: list[str], **options: Any) -> list[Message]:
    """Images for these prompts, asked for at once; in the order asked."""
    user = options.pop("user", "alice")
    handles = [
        await standin.invoke("flux", user=user, options={"prompt": p, **options}) for p in prompts
    ]
    return [await h.wait_original(done, timeout=30) for h in handles]


async def history(standin: LocalDiscord, user: str = "alice", **options: Any) -> Message:
    handle = await standin.invoke("flux-history", user=user, options=options)
    page = await handle.wait_original(ready)
    assert page.ephemeral
    return page


def prompts(page: Message) -> list[str]:
    return [e["description"] for e in page.embeds]


def entry_button(page: Message, action: str, number: int) -> str:
    index = [c for c in page.custom_ids() if c.startswith(f"flux:history:{action}:")]
    return index[(number - 1) % 5]


async def clicked(standin: LocalDiscord, page: Message, custom_id: str, **kw: Any) -> Message:
    handle = await standin.click(page, custom_id, **kw)
    return await handle.wait_original(lambda m: bool(m.content or m.embeds), timeout=20)


async def test_history_pages_through_the_members_own_images(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Newest first, five a page, each with its prompt, kind, date, seed and thumbnail;
    Bob's image is not in Alice's history; Older and Newer turn the page; filters by kind and
    by word."""
    images = await generated(discord_standin, [f"lantern {n}" for n in range(6)], seed=40)
    await generated(discord_standin, ["bob's lantern"], user="bob")
    upscale = await discord_standin.click(images[0], button(images[0], "upscale-subtle"))
    await upscale.wait_original(done, timeout=20)

    alice = discord_standin.members["alice"].id
    made = [j for j in await bot.store.by_states({"delivered"}) if j.user_id == alice]  # type: ignore[attr-defined]
    newest_first = [j.prompt for j in made[::-1]]  # the order they were asked in, at the bot
    assert newest_first[0] == "lantern 0"  # the upscale, asked for last

    first = await history(discord_standin)
    assert "1–5 of 7" in first.content
    assert prompts(first) == newest_first[:5]
    newest, second = first.embeds[0], first.embeds[1]
    assert newest["title"] == "1. Upscale"
    assert second["title"] == "2. Generation"
    fields = {f["name"]: f["value"] for f in second["fields"]}
    assert fields["Seed"] == "40"
    assert fields["Made"].startswith("<t:")
    posted = next(m for m in images if m.attachments[0]["description"] == newest_first[1])
    assert str(posted.id) in fields["Posted"]  # a link to where it was posted
    assert second["thumbnail"]["url"] == made[-2].result_urls[0]  # Apiframe's, while it lives
    assert second["thumbnail"]["url"].startswith(apiframe.url)
    labels = [c.get("label") for row in first.components for c in row["components"]]
    assert labels[-2:] == ["Page 1 of 2", "Older ▶"]

    older = await discord_standin.click(first, "flux:history:page:1::")
    await discord_standin.wait_for(lambda: prompts(first) == newest_first[5:])
    assert older.state.response_type == 6  # the page itself is edited, nothing new posted
    assert "6–7 of 7" in first.content
    assert "bob's lantern" not in str(first.embeds)
    labels = [c.get("label") for row in first.components for c in row["components"]]
    assert labels[-2:] == ["◀ Newer", "Page 2 of 2"]

    assert prompts(await history(discord_standin, kind="upscale")) == ["lantern 0"]
    assert len(prompts(await history(discord_standin, kind="generate"))) == 5
    assert prompts(await history(discord_standin, word="LANTERN 3")) == ["lantern 3"]
    nothing = await history(discord_standin, word="harbour")
    assert nothing.content == "None of your images here match (with “harbour”)."
    assert (await history(discord_standin, user="bob")).embeds[0]["description"] == (
        "bob's lantern"
    )


async def test_show_and_share_post_working_images(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Show posts a private image again for Alice alone, with buttons that work; Share posts
    it in the channel for everyone, where Bob's click on its buttons makes his own image."""
    [secret] = await generated(discord_standin, ["a secret garden"], private=True)
    page = await history(discord_standin)
    assert "🔒 private" in page.embeds[0]["title"]

    shown = await clicked(discord_standin, page, entry_button(page, "show", 1))
    assert shown.ephemeral
    assert shown.attachments[0]["description"] == "a secret garden"
    vary = await discord_standin.click(shown, button(shown, "vary-subtle"))
    varied = await vary.wait_original(done, timeout=20)
    assert varied.ephemeral  # the child of a private image is private
    assert varied.attachments

    shared = await clicked(discord_standin, page, entry_button(page, "share", 1))
    assert not shared.ephemeral
    assert shared.attachments
    assert shared in discord_standin.messages(discord_standin.general)
    reroll = await discord_standin.click(shared, button(shared, "reroll"), user="bob")
    bobs = await reroll.wait_original(done, timeout=20)
    assert not bobs.ephemeral
    assert [b["prompt"] for b in submitted(apiframe)] == ["a secret garden"] * 3
    assert secret.ephemeral


async def test_share_follows_the_channel_rules_and_an_expired_image_is_said(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Share is refused where Alice may not generate; once Apiframe has dropped the file,
    Show and Share say so instead of posting."""
    await generated(discord_standin, ["a paper crane"], private=True, seed=8)
    discord_standin.add_member("staff", roles=[discord_standin.staff_role])
    await admin(discord_standin, "channel allow", channel=discord_standin.art)
    page = await history(discord_standin)
    handle: InteractionHandle = await discord_standin.click(page, entry_button(page, "share", 1))
    await discord_standin.wait_for(lambda: bool(handle.followups))
    assert handle.followups[0].ephemeral
    assert "isn't enabled in this channel" in handle.followups[0].content
    assert handle.original is None  # the public "thinking…" went away

    apiframe.sandbox.config.result_ttl_seconds = 0
    in_art = await discord_standin.invoke("flux-history", channel=discord_standin.art)
    art_page = await in_art.wait_original(ready)
    gone = await clicked(discord_standin, art_page, entry_button(art_page, "show", 1))
    assert gone.ephemeral
    assert "expired at Apiframe" in gone.content
    assert "seed:8" in gone.content
    assert gone.attachments == []
