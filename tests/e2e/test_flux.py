"""`/flux` end to end: a member's command through the local Discord, the bot and the sandbox."""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

from bot.apiframe.sandbox import Outcome
from tests.conftest import ApiframeSandbox, RunningBot
from tests.discord_standin import LocalDiscord
from tests.discord_standin.state import Message


def done(message: Message) -> bool:
    return bool(message.attachments) or any(
        e.get("title") == "No image this time" for e in message.embeds
    )


def submitted(apiframe: ApiframeSandbox) -> list[dict]:
    return [json.loads(r["body"]) for r in apiframe.sandbox.requests]


def png(width: int = 256, height: int = 256) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_flux_delivers_the_image_with_progress(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Every option reaches fluxParams; the member sees progress, then the image and buttons."""
    handle = await discord_standin.invoke(
        "flux",
        user="alice",
        options={
            "prompt": "a lighthouse in a storm",
            "resolution": "0.5MP",
            "aspect_ratio": "16:9",
            "format": "webp",
            "quality": 80,
            "upsample": True,
            "seed": 777,
        },
    )
    assert await handle.wait_acknowledged() < 1.0
    final = await handle.wait_original(done, timeout=20)
    assert not final.ephemeral
    assert submitted(apiframe) == [
        {
            "prompt": "a lighthouse in a storm",
            "model": "flux-2-max",
            "fluxParams": {
                "resolution": "0.5MP",
                "aspect_ratio": "16:9",
                "output_format": "webp",
                "output_quality": 80,
                "prompt_upsampling": True,
                "seed": 777,
            },
        }
    ]
    attachment = final.attachments[0]
    assert attachment["content_type"] == "image/webp"
    assert attachment["width"] > attachment["height"]
    assert attachment["description"] == "a lighthouse in a storm"
    embed = final.embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Seed"] == "777"
    assert fields["Resolution"] == "0.5MP"
    assert fields["Aspect"] == "16:9"
    assert fields["Requested by"] == f"<@{discord_standin.members['alice'].id}>"
    assert embed["image"]["url"] == f"attachment://{attachment['filename']}"
    actions = [c.split(":")[1] for c in final.custom_ids()]
    assert actions == [
        *("upscale-subtle", "upscale-creative", "vary-subtle", "vary-strong"),
        *("zoom-1.5", "zoom-2", "square"),
        *("pan-left", "pan-right", "pan-up", "pan-down"),
        *("reroll", "edit", "delete"),
    ]
    rows = [[c["custom_id"].split(":")[1] for c in row["components"]] for row in final.components]
    assert [len(row) for row in rows] == [4, 3, 4, 3]
    edits = [e for e in discord_standin.server.timeline if e.message_id == final.id]
    assert any(e.embeds and "…" in (e.embeds[0].get("title") or "") for e in edits)
    assert apiframe.sandbox.stats["created"] == 1


async def test_private_mode_is_ephemeral_throughout(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """With private=True every message of the conversation is ephemeral."""
    handle = await discord_standin.invoke(
        "flux", options={"prompt": "a secret garden", "private": True}
    )
    final = await handle.wait_original(done, timeout=20)
    entries = [e for e in discord_standin.server.timeline if e.message_id == final.id]
    assert entries
    assert all(e.ephemeral for e in entries)
    assert discord_standin.messages(discord_standin.general) == []


async def test_refusal_before_anything_is_paid(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """`strength` without an image gets a polite ephemeral answer and no job."""
    handle = await discord_standin.invoke("flux", options={"prompt": "x", "strength": 0.5})
    reply = await handle.wait_original()
    assert reply.ephemeral
    assert "reference `image`" in reply.content
    assert apiframe.sandbox.requests == []


async def test_reference_image_reaches_both_fields(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """An attached image is sent as image_prompt + strength and in input_images."""
    ref = discord_standin.upload("ref.png", png(), "image/png")
    handle = await discord_standin.invoke(
        "flux", options={"prompt": "in this style", "strength": 0.62}, attachments={"image": ref}
    )
    await handle.wait_original(done, timeout=20)
    params = submitted(apiframe)[0]["fluxParams"]
    assert params["image_prompt"] == ref["url"]
    assert params["input_images"] == [ref["url"]]
    assert params["image_prompt_strength"] == 0.6


async def test_several_references_go_in_the_order_given(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Four attachment options: all go to input_images in order, the first to image_prompt
    with the strength, and the reservation counts each reference."""
    refs = [discord_standin.upload(f"ref{i}.png", png(), "image/png") for i in range(4)]
    handle = await discord_standin.invoke(
        "flux",
        options={"prompt": "these four together", "strength": 0.5, "resolution": "1MP"},
        attachments={"image": refs[0], "image2": refs[1], "image3": refs[2], "image4": refs[3]},
    )
    final = await handle.wait_original(done, timeout=20)
    params = submitted(apiframe)[0]["fluxParams"]
    assert params["input_images"] == [r["url"] for r in refs]
    assert (params["image_prompt"], params["image_prompt_strength"]) == (refs[0]["url"], 0.5)
    fields = {f["name"]: f["value"] for f in final.embeds[0]["fields"]}
    assert fields["Reference"] == "4 images, strength 0.5"
    job = (await bot.store.by_states({"delivered"}))[0]  # type: ignore[attr-defined]
    assert job.reserved_credits == 7 + 4 * 3  # 1 MP out, and about 1 MP in per reference


async def test_a_bad_second_reference_is_refused_before_paying(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    good = discord_standin.upload("good.png", png(), "image/png")
    bad = discord_standin.upload("notes.png", b"just some text, really", "image/png")
    handle = await discord_standin.invoke(
        "flux", options={"prompt": "x"}, attachments={"image": good, "image2": bad}
    )
    await discord_standin.wait_for(lambda: bool(handle.followups))
    assert handle.followups[0].ephemeral
    assert "`notes.png`" in handle.followups[0].content
    assert apiframe.sandbox.requests == []


@pytest.mark.parametrize(
    ("name", "data", "content_type", "expected"),
    [
        ("photo.png", b"%PDF-1.7\n" + b"0" * 500, "image/png", "not an image"),
        ("cut.png", png()[:600], "image/png", "damaged"),
        ("tiny.png", png(16, 16), "image/png", "at least"),
    ],
    ids=["pdf-named-png", "truncated", "too-small"],
)
async def test_bad_reference_is_refused_privately(
    bot: object,
    discord_standin: LocalDiscord,
    apiframe: ApiframeSandbox,
    name: str,
    data: bytes,
    content_type: str,
    expected: str,
) -> None:
    """Images are judged by their bytes after the acknowledgement; only the member sees why."""
    fake = discord_standin.upload(name, data, content_type)
    handle = await discord_standin.invoke(
        "flux", options={"prompt": "x"}, attachments={"image": fake}
    )
    await discord_standin.wait_for(lambda: bool(handle.followups))
    notice = handle.followups[0]
    assert notice.ephemeral
    assert expected in notice.content
    assert handle.original is None
    assert apiframe.sandbox.requests == []


@pytest.mark.parametrize(
    ("name", "size", "content_type", "expected"),
    [
        ("manual.pdf", 2000, "application/pdf", "is not an image"),
        ("huge.png", 50 * 2**20, "image/png", "at most 20 MiB"),
    ],
)
async def test_obviously_wrong_attachments_are_refused_at_once(
    bot: object,
    discord_standin: LocalDiscord,
    apiframe: ApiframeSandbox,
    name: str,
    size: int,
    content_type: str,
    expected: str,
) -> None:
    """A PDF or a 50 MB file is refused from Discord's description, before any download."""
    attachment = discord_standin.upload(name, b"0" * 10, content_type)
    attachment["size"] = size
    handle = await discord_standin.invoke(
        "flux", options={"prompt": "x"}, attachments={"image": attachment}
    )
    reply = await handle.wait_original()
    assert reply.ephemeral
    assert expected in reply.content
    assert handle.state.response_type == 4
    assert apiframe.sandbox.requests == []


async def test_missing_permissions_are_explained(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Where the bot cannot attach files, the member is told which permission is missing."""
    discord_standin.general.bot_permissions &= ~(1 << 15)
    handle = await discord_standin.invoke("flux", options={"prompt": "x"})
    reply = await handle.wait_original()
    assert reply.ephemeral
    assert "**Attach Files**" in reply.content
    assert "Embed Links" not in reply.content
    assert apiframe.sandbox.requests == []


async def test_moderation_failure_is_explained_and_not_charged(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """A provider moderation failure shows the content-policy message; nothing is charged."""
    apiframe.sandbox.add_outcome(Outcome(status="FAILED", error="Request Moderated"))
    handle = await discord_standin.invoke("flux", options={"prompt": "something"})
    final = await handle.wait_original(done, timeout=20)
    assert "content policy" in final.embeds[0]["description"]
    assert "Request Moderated" not in json.dumps(final.embeds)
    assert final.attachments == []
    assert apiframe.sandbox.stats["credits"] == 0


async def test_a_result_on_a_refused_host_fails_politely_and_is_not_counted(
    bot: Any, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, caplog: Any
) -> None:
    """The sandbox hands out a result URL on `localhost` instead of its own 127.0.0.1 host
    and port: the name resolves to loopback, which only the configured base URL's host may
    use, so nothing is fetched, and the member hears why and is charged nothing."""
    port = apiframe.url.rsplit(":", 1)[1]
    apiframe.sandbox.config.public_url = f"http://localhost:{port}"
    caplog.set_level(logging.WARNING, "bot.downloads")
    handle = await discord_standin.invoke("flux", options={"prompt": "a lighthouse"})
    final = await handle.wait_original(done, timeout=20)
    assert final.attachments == []
    assert final.embeds[0]["title"] == "No image this time"
    assert "address I don't fetch from" in final.embeds[0]["description"]
    assert "not counted" in final.embeds[0]["description"]
    assert "localhost resolves to" in caplog.text
    (job,) = await bot.store.by_states({"failed"})
    usage = await bot.guild_store.usage(discord_standin.guild.id, job.user_id, datetime.now(UTC))
    assert (usage.today, usage.this_month, usage.in_flight) == (0, 0, 0)
    # Apiframe billed the finished job: the guild's budget shows what was really spent.
    assert usage.guild_credits == apiframe.sandbox.stats["credits"] == 7


async def test_a_reference_on_a_refused_host_is_not_fetched(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, caplog: Any
) -> None:
    """An attachment whose URL names another host than the configured Discord's (here
    `localhost`, which resolves to loopback) is refused like a result URL, before paying."""
    ref = discord_standin.upload("ref.png", png(), "image/png")
    ref["url"] = ref["url"].replace("127.0.0.1", "localhost", 1)
    caplog.set_level(logging.WARNING, "bot.downloads")
    handle = await discord_standin.invoke(
        "flux", options={"prompt": "in this style"}, attachments={"image": ref}
    )
    await discord_standin.wait_for(lambda: bool(handle.followups))
    assert handle.followups[0].ephemeral
    assert "couldn't download your reference image `ref.png`" in handle.followups[0].content
    assert "localhost resolves to" in caplog.text
    assert apiframe.sandbox.requests == []


async def test_large_png_is_fitted_under_the_upload_limit(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """A 4 MP PNG over 10 MiB is re-encoded to fit, and the embed says so."""
    handle = await discord_standin.invoke(
        "flux", options={"prompt": "noise", "resolution": "4MP", "format": "png"}
    )
    final = await handle.wait_original(done, timeout=40)
    attachment = final.attachments[0]
    assert attachment["size"] <= 10 * 2**20
    fields = {f["name"]: f["value"] for f in final.embeds[0]["fields"]}
    assert "upload limit" in fields["Note"]
    assert attachment["content_type"] in ("image/webp", "image/jpeg")
    # The full-size original stays one click away while Apiframe keeps it.
    [job] = apiframe.sandbox.jobs.values()
    assert "[original](" in fields["Note"]
    assert job.id in fields["Note"]


async def test_reroll_button_starts_a_new_job(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Reroll keeps the prompt and options with a new seed, as the clicker's own job."""
    first = await discord_standin.invoke("flux", options={"prompt": "a cat", "seed": 5})
    image = await first.wait_original(done, timeout=20)
    reroll = next(c for c in image.custom_ids() if c.startswith("flux:reroll:"))
    second = await discord_standin.click(image, reroll, user="bob")
    await second.wait_original(done, timeout=20)
    bodies = submitted(apiframe)
    assert len(bodies) == 2
    assert bodies[1]["prompt"] == "a cat"
    assert bodies[1]["fluxParams"]["seed"] != 5


async def test_vary_and_edit_prompt_buttons(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Vary (Subtle) and Vary (Strong) use the posted image as reference, close to it and
    looser; Edit prompt opens a form and generates from the edited text with the same seed."""
    first = await discord_standin.invoke("flux", options={"prompt": "a boat", "seed": 9})
    image = await first.wait_original(done, timeout=20)
    ids = {c.split(":")[1]: c for c in image.custom_ids()}
    posted_url = image.attachments[0]["url"]

    subtle = await discord_standin.click(image, ids["vary-subtle"])
    subtle_result = await subtle.wait_original(done, timeout=20)
    strong = await discord_standin.click(image, ids["vary-strong"])
    await strong.wait_original(done, timeout=20)
    edit = await discord_standin.click(image, ids["edit"])
    await discord_standin.wait_for(lambda: edit.state.modal is not None)
    field = edit.state.modal["components"][0]
    custom_id = (field.get("components") or [field.get("component")])[0]["custom_id"]
    edited = await discord_standin.submit_modal(edit, {custom_id: "a boat at night"})
    await edited.wait_original(done, timeout=20)

    bodies = submitted(apiframe)
    close, loose, rewritten = bodies[1], bodies[2], bodies[3]
    for varied in (close, loose):
        assert varied["fluxParams"]["image_prompt"] == posted_url
        assert varied["fluxParams"]["input_images"] == [posted_url]
        assert varied["fluxParams"]["seed"] != 9
    assert close["fluxParams"]["image_prompt_strength"] == 0.85
    assert loose["fluxParams"]["image_prompt_strength"] == 0.5
    fields = {f["name"]: f["value"] for f in subtle_result.embeds[0]["fields"]}
    assert str(image.id) in fields["Made from"]  # a link back to the image it came from
    assert rewritten["prompt"] == "a boat at night"
    assert rewritten["fluxParams"]["seed"] == 9


async def test_buttons_keep_working_after_a_restart(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """The buttons hold only the job id: a new process (no view in memory) still answers."""
    await bot_runner.start()
    first = await discord_standin.invoke("flux", options={"prompt": "a lantern", "seed": 3})
    image = await first.wait_original(done, timeout=20)
    await bot_runner.stop()
    await bot_runner.start()
    reroll = next(c for c in image.custom_ids() if c.startswith("flux:reroll:"))
    again = await discord_standin.click(image, reroll, user="bob")
    assert (await again.wait_original(done, timeout=20)).attachments
    assert [b["prompt"] for b in submitted(apiframe)] == ["a lantern", "a lantern"]


async def test_buttons_of_an_earlier_version_still_work(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Images posted before the buttons were regrouped carry `flux:vary:<job>`: a click on one
    still varies the image (now as Vary (Strong))."""
    first = await discord_standin.invoke("flux", options={"prompt": "an old harbour"})
    image = await first.wait_original(done, timeout=20)
    job_id = image.custom_ids()[0].rsplit(":", 1)[1]
    image.components = [
        {"type": 1, "components": [{"type": 2, "style": 2, "label": "Vary",
                                    "custom_id": f"flux:vary:{job_id}"}]}
    ]  # fmt: skip
    again = await discord_standin.click(image, f"flux:vary:{job_id}")
    assert (await again.wait_original(done, timeout=20)).attachments
    varied = submitted(apiframe)[1]["fluxParams"]
    assert (varied["image_prompt"], varied["image_prompt_strength"]) == (
        image.attachments[0]["url"],
        0.5,
    )


async def test_a_private_image_rerolls_privately(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    first = await discord_standin.invoke("flux", options={"prompt": "my secret", "private": True})
    image = await first.wait_original(done, timeout=20)
    assert image.ephemeral
    reroll = next(c for c in image.custom_ids() if c.startswith("flux:reroll:"))
    again = await discord_standin.click(image, reroll)
    final = await again.wait_original(done, timeout=20)
    assert final.ephemeral
    assert all(e.ephemeral for e in discord_standin.server.timeline if e.message_id == final.id)


async def test_progress_edits_are_coalesced(
    bot_runner: RunningBot,
    bot_env: dict[str, str],
    discord_standin: LocalDiscord,
    apiframe: ApiframeSandbox,
) -> None:
    """Polls come often near the expected finish, but the message is edited at most once per
    PROGRESS_INTERVAL (plus the one edit that says the job was accepted)."""
    bot_env["PROGRESS_INTERVAL"] = "1.5"
    apiframe.sandbox.config.processing_seconds = 6
    apiframe.sandbox.config.progress_steps = []  # no percentages: polls stay dense once overdue
    await bot_runner.start()
    handle = await discord_standin.invoke("flux", options={"prompt": "a slow sunrise"})
    final = await handle.wait_original(done, timeout=30)
    progress = [
        e.at
        for e in discord_standin.server.timeline
        if e.message_id == final.id and e.action == "edit" and e.embeds and not e.attachments
    ]
    assert len(progress) >= 3
    gaps = sorted(b - a for a, b in itertools.pairwise(progress))
    # 1.5 s apart as the bot sent them; arrival times may jitter, hence the slack. (Without
    # coalescing, polls every 0.3-1.3 s would each edit.) At most one gap, the forced edit
    # saying the job was accepted, may be shorter.
    assert all(gap >= 1.0 for gap in gaps[1:]), gaps


async def test_a_new_stage_is_shown_even_when_the_next_poll_is_far_off(
    bot_runner: RunningBot,
    bot_env: dict[str, str],
    discord_standin: LocalDiscord,
    apiframe: ApiframeSandbox,
) -> None:
    """ "Generating" arrives within the coalescing window, though the poll that saw it came
    right after the "queued" edit and the next one is seconds away."""
    bot_env["PROGRESS_INTERVAL"] = "1.5"
    apiframe.sandbox.config.processing_seconds = 6
    await bot_runner.start()
    handle = await discord_standin.invoke("flux", options={"prompt": "a slow sunset"})
    final = await handle.wait_original(done, timeout=30)
    titles = [
        (e.embeds[0].get("title") or "")
        for e in discord_standin.server.timeline
        if e.message_id == final.id and e.embeds and not e.attachments
    ]
    assert any(t.startswith("Generating") for t in titles), titles


async def test_an_image_discord_refuses_waits_in_the_inbox(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """The bot loses Attach Files while a job runs: the paid image is not dropped. The member
    is told where it is and gets it privately from /flux-inbox."""
    apiframe.sandbox.config.processing_seconds = 2
    handle = await discord_standin.invoke("flux", options={"prompt": "a lost kite"})
    await discord_standin.wait_for(lambda: apiframe.sandbox.stats["created"] == 1, timeout=10)
    discord_standin.general.bot_permissions &= ~(1 << 15)
    notice = await handle.wait_original(
        lambda m: bool(m.embeds) and m.embeds[0].get("title") == "Your image is ready", timeout=20
    )
    assert "/flux-inbox" in notice.embeds[0]["fields"][0]["value"]
    assert not notice.attachments
    # The refused upload is what this test is about: Discord said 50013, as it would.
    # Tried once, not again through the channel: the permission is missing there too.
    assert ["50013" in v for v in discord_standin.violations] == [True]
    discord_standin.server.violations.clear()
    inbox = await discord_standin.invoke("flux-inbox")
    await discord_standin.wait_for(lambda: bool(inbox.followups), timeout=20)
    delivered = inbox.followups[0]
    assert delivered.ephemeral
    assert delivered.attachments[0]["description"] == "a lost kite"
    assert apiframe.sandbox.stats["created"] == 1


async def test_a_deleted_thinking_message_gets_the_image_in_the_channel(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """The member deletes the bot's "thinking…" reply while the job runs: the image is posted
    in the channel instead, mentioning them."""
    apiframe.sandbox.config.processing_seconds = 2
    alice = discord_standin.members["alice"]
    handle = await discord_standin.invoke("flux", user=alice, options={"prompt": "a stubborn"})
    first = await handle.wait_original(lambda m: bool(m.embeds), timeout=10)
    first.deleted = True  # as when the member dismisses it
    await discord_standin.wait_for(
        lambda: any(m.attachments for m in discord_standin.messages()), timeout=20
    )
    posted = next(m for m in discord_standin.messages() if m.attachments)
    assert posted.interaction_id is None
    assert f"<@{alice.id}>" in posted.content
    assert apiframe.sandbox.stats["created"] == 1
    # One edit found the message gone (Discord: 10008, as it would); the bot tried no more.
    assert ["10008" in v for v in discord_standin.violations] == [True]
    discord_standin.server.violations.clear()


async def test_without_a_seed_one_is_chosen_and_shown(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """The seed in the embed is the one Apiframe used, so a member can reproduce the image."""
    handle = await discord_standin.invoke("flux", options={"prompt": "a paper boat"})
    final = await handle.wait_original(done, timeout=20)
    [body] = submitted(apiframe)
    seed = body["fluxParams"]["seed"]
    assert isinstance(seed, int)
    fields = {f["name"]: f["value"] for f in final.embeds[0]["fields"]}
    assert fields["Seed"] == str(seed)


async def test_the_prompt_is_shown_as_typed_not_as_markdown(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    prompt = "a **bold** fox ||hidden|| @everyone"
    handle = await discord_standin.invoke("flux", options={"prompt": prompt})
    final = await handle.wait_original(done, timeout=20)
    shown = final.embeds[0]["description"]
    assert r"\*\*bold\*\*" in shown
    assert r"\|\|hidden\|\|" in shown
    assert "@everyone" not in shown  # a zero-width space keeps it from reading as a mention
    assert submitted(apiframe)[0]["prompt"] == prompt  # Apiframe gets it untouched
    assert final.attachments[0]["description"] == prompt  # so does the alt text


async def test_a_member_on_cooldown_costs_no_reference_decode(
    bot_env: dict[str, str],
    bot_runner: RunningBot,
    discord_standin: LocalDiscord,
    apiframe: ApiframeSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cooldown, quota and budget are checked before the reference image is fetched and
    decoded: a refused member costs no decode (a small file can decode to hundreds of MB)."""
    from bot import images

    bot_env["DEFAULT_COOLDOWN_SECONDS"] = "600"
    await bot_runner.start()
    decoded: list[int] = []
    real = images.check_reference_async

    async def counting(data: bytes) -> images.ImageInfo:
        decoded.append(len(data))
        return await real(data)

    monkeypatch.setattr(images, "check_reference_async", counting)
    first = await discord_standin.invoke("flux", options={"prompt": "a first one"})
    await first.wait_original(done, timeout=20)
    ref = discord_standin.upload("ref.png", png(), "image/png")
    second = await discord_standin.invoke(
        "flux", options={"prompt": "too soon"}, attachments={"image": ref}
    )
    await discord_standin.wait_for(lambda: bool(second.followups))
    assert "try again" in (second.followups[0].content or "")
    assert decoded == []
    assert len(apiframe.sandbox.jobs) == 1
