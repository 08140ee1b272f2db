""" "Edit with FLUX" end to end: a message context menu on any message with images."""

from __future__ import annotations

from tests.conftest import ApiframeSandbox
from tests.discord_standin import LocalDiscord
from tests.discord_standin.helpers import InteractionHandle
from tests.e2e.test_flux import done, png, submitted
from tests.e2e.test_moderation import admin

MENU = "Edit with FLUX"


def modal_ids(opened: InteractionHandle) -> list[str]:
    assert opened.state.modal is not None
    return [
        (row.get("components") or [row.get("component")])[0]["custom_id"]
        for row in opened.state.modal["components"]
    ]


async def open_menu(
    standin: LocalDiscord, message: object, user: str = "alice"
) -> InteractionHandle:
    opened = await standin.invoke_on_message(MENU, message, user=user)  # type: ignore[arg-type]
    await standin.wait_for(lambda: opened.state.response_type is not None)
    return opened


async def test_the_menu_is_a_guild_message_command(
    bot: object, discord_standin: LocalDiscord
) -> None:
    menu = discord_standin.commands[MENU]
    assert menu["type"] == 3
    assert menu["contexts"] == [0]
    assert menu["integration_types"] == [0]


async def test_another_members_two_images_become_references(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Alice edits Bob's message with two images: both are references, in order, the strength
    from the form, the result posted in that channel with a link back to Bob's message."""
    post = discord_standin.post(
        "bob",
        "my two sketches",
        files=[("a.png", png(320, 240), "image/png"), ("b.png", png(), "image/png")],
    )
    opened = await open_menu(discord_standin, post)
    assert opened.state.response_type == 9  # a modal, as the first answer
    prompt_id, strength_id = modal_ids(opened)
    made = await discord_standin.submit_modal(
        opened, {prompt_id: "both, as one watercolour", strength_id: "0.62"}
    )
    result = await made.wait_original(done, timeout=20)
    assert result.attachments
    assert not result.ephemeral
    assert result.channel_id == post.channel_id
    body = submitted(apiframe)[0]
    assert body["prompt"] == "both, as one watercolour"
    urls = [a["url"] for a in post.attachments]
    assert body["fluxParams"]["input_images"] == urls
    assert body["fluxParams"]["image_prompt"] == urls[0]
    assert body["fluxParams"]["image_prompt_strength"] == 0.6
    assert body["fluxParams"]["aspect_ratio"] == "4:3"  # the first image's shape
    fields = {f["name"]: f["value"] for f in result.embeds[0]["fields"]}
    assert str(post.id) in fields["Made from"]
    assert fields["Requested by"] == f"<@{discord_standin.members['alice'].id}>"


async def test_a_message_without_images_is_refused_privately(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    post = discord_standin.post("bob", "just words", files=[("notes.txt", b"hi", "text/plain")])
    opened = await open_menu(discord_standin, post)
    reply = await opened.wait_original()
    assert reply.ephemeral
    assert "no images" in reply.content
    assert apiframe.sandbox.requests == []


async def test_a_bad_strength_is_explained(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    post = discord_standin.post("bob", files=[("a.png", png(), "image/png")])
    opened = await open_menu(discord_standin, post)
    prompt_id, strength_id = modal_ids(opened)
    made = await discord_standin.submit_modal(opened, {prompt_id: "x", strength_id: "lots"})
    reply = await made.wait_original()
    assert reply.ephemeral
    assert "from 0 to 1" in reply.content
    assert apiframe.sandbox.requests == []


async def test_the_servers_rules_apply(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """A member banned with /flux-admin cannot get around it through the menu."""
    discord_standin.add_member("staff", roles=[discord_standin.staff_role])
    bob = discord_standin.members["bob"]
    await admin(discord_standin, "ban", member=bob, reason="spam")
    post = discord_standin.post("alice", files=[("a.png", png(), "image/png")])
    opened = await open_menu(discord_standin, post, user="bob")
    prompt_id, _ = modal_ids(opened)
    made = await discord_standin.submit_modal(opened, {prompt_id: "mine now"}, user="bob")
    await discord_standin.wait_for(lambda: bool(made.followups))
    assert made.followups[0].ephemeral
    assert "spam" in made.followups[0].content
    assert apiframe.sandbox.requests == []


async def test_embedded_images_count_too(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """A link preview's image is a reference (Discord's proxy URL), after the attachments."""
    shared = discord_standin.upload("shared.png", png(), "image/png")
    preview = {
        "type": "rich",
        "title": "A picture",
        "image": {"url": "https://example.com/p.png", "proxy_url": shared["url"], "width": 256,
                  "height": 256},
    }  # fmt: skip
    post = discord_standin.post("bob", files=[("first.png", png(), "image/png")], embeds=[preview])
    opened = await open_menu(discord_standin, post)
    prompt_id, _ = modal_ids(opened)
    made = await discord_standin.submit_modal(opened, {prompt_id: "together"})
    await made.wait_original(done, timeout=20)
    params = submitted(apiframe)[0]["fluxParams"]
    assert params["input_images"] == [post.attachments[0]["url"], shared["url"]]
