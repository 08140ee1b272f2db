"""The tools under an image, end to end: Upscale, Zoom Out, Make Square and Pan through
Apiframe's upscale and edit routes (the sandbox), posted by the bot in the local Discord."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bot.apiframe.sandbox import Outcome
from tests.conftest import ApiframeSandbox, BotProcess
from tests.discord_standin import LocalDiscord
from tests.discord_standin.state import Message
from tests.e2e.test_flux import done, submitted
from tests.e2e.test_moderation import admin


def button(message: Message, action: str) -> str:
    return next(c for c in message.custom_ids() if c.split(":")[1] == action)


def actions(message: Message) -> list[str]:
    return [c.split(":")[1] for c in message.custom_ids()]


def alices_usage_today(bot: Any, standin: LocalDiscord) -> Any:
    return bot.guild_store.usage(standin.guild.id, standin.members["alice"].id, datetime.now(UTC))


def fields(message: Message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0]["fields"]}


async def generated(standin: LocalDiscord, **options: Any) -> Message:
    handle = await standin.invoke("flux", options={"prompt": "a red boat", **options})
    return await handle.wait_original(done, timeout=20)


async def test_upscale_subtle_and_creative(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Subtle goes to Topaz, Creative to Clarity with the prompt; both double each side of
    the posted picture, link back to it, and offer no second upscale."""
    image = await generated(discord_standin, resolution="0.5MP", format="png")
    posted = image.attachments[0]
    subtle = await discord_standin.click(image, button(image, "upscale-subtle"))
    big = await subtle.wait_original(done, timeout=20)
    creative = await discord_standin.click(image, button(image, "upscale-creative"))
    detailed = await creative.wait_original(done, timeout=20)

    topaz, clarity = submitted(apiframe)[1:]
    assert topaz == {
        "model": "topaz-image-upscale",
        "topazUpscaleParams": {
            "image": posted["url"],
            "upscale_factor": 2,
            "output_format": "png",
            "seed": topaz["topazUpscaleParams"]["seed"],
        },
    }
    assert clarity["model"] == "clarity-upscale"
    assert clarity["clarityUpscaleParams"]["prompt"] == "a red boat"
    for result in (big, detailed):
        shown = result.attachments[0]
        assert (shown["width"], shown["height"]) == (2 * posted["width"], 2 * posted["height"])
        assert str(image.id) in fields(result)["Made from"]
        assert not {"upscale-subtle", "upscale-creative", "reroll"} & set(actions(result))
    assert fields(big)["Upscale"] == "Subtle (Topaz) ×2"
    assert fields(detailed)["Upscale"] == "Creative (Clarity) ×2"


async def test_zoom_out_square_and_pan(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """Zoom Out 2× doubles the canvas, Make Square (only on a wide image) squares it, Pan left
    widens it; each with the original prompt."""
    image = await generated(discord_standin, resolution="0.5MP", aspect_ratio="16:9")
    posted = image.attachments[0]
    results = {}
    for action in ("zoom-2", "square", "pan-left"):
        handle = await discord_standin.click(image, button(image, action))
        results[action] = (await handle.wait_original(done, timeout=20)).attachments[0]
    bodies = submitted(apiframe)[1:]
    assert [b["fluxFillParams"]["outpaint"] for b in bodies] == [
        "Zoom out 2x",
        "Make square",
        "Left outpaint",
    ]
    assert all(b["fluxFillParams"]["prompt"] == "a red boat" for b in bodies)
    assert all(b["fluxFillParams"]["image"] == posted["url"] for b in bodies)
    width, height = posted["width"], posted["height"]
    assert results["zoom-2"]["width"] >= 2 * width
    assert results["square"]["width"] == results["square"]["height"] == width
    assert results["pan-left"]["height"] == height
    assert results["pan-left"]["width"] > width


async def test_a_square_image_offers_no_make_square(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    image = await generated(discord_standin, resolution="0.5MP", aspect_ratio="1:1")
    assert "square" not in actions(image)
    assert {"zoom-1.5", "pan-up"} <= set(actions(image))


async def test_anyone_may_work_on_a_public_image_as_their_own_job(
    bot: Any, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    image = await generated(discord_standin, resolution="0.5MP")
    handle = await discord_standin.click(image, button(image, "zoom-1.5"), user="bob")
    result = await handle.wait_original(done, timeout=20)
    assert fields(result)["Requested by"] == f"<@{discord_standin.members['bob'].id}>"
    jobs = await bot.store.by_states({"delivered"})
    zoom = next(j for j in jobs if j.kind == "outpaint")
    assert zoom.user_id == discord_standin.members["bob"].id
    assert zoom.parent_job_id is not None


async def test_a_failed_outpaint_is_refunded_and_not_counted(
    bot: Any, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    apiframe.sandbox.config.credits = 100
    image = await generated(discord_standin, resolution="0.5MP")
    apiframe.sandbox.add_outcome(Outcome(status="FAILED", error="Provider returned 500"))
    handle = await discord_standin.click(image, button(image, "zoom-2"))
    failed = await handle.wait_original(done, timeout=20)
    assert failed.embeds[0]["title"] == "No image this time"
    assert "not counted" in failed.embeds[0]["description"]
    assert apiframe.sandbox.balance() == 100 - 7  # the outpaint's 9 credits came back
    assert (await alices_usage_today(bot, discord_standin)).today == 1  # the generation only


async def test_a_402_at_submit_says_what_was_needed(
    bot: Any, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    """With 10 credits a 0.5 MP image (7) fits, a zoom out (9) does not: Apiframe answers 402
    at submission, the member hears the numbers, nothing is counted."""
    apiframe.sandbox.config.credits = 10
    image = await generated(discord_standin, resolution="0.5MP")
    handle = await discord_standin.click(image, button(image, "zoom-1.5"))
    failed = await handle.wait_original(done, timeout=20)
    told = failed.embeds[0]["description"]
    assert "out of image credits: this needed 9 and its account has only 3 left" in told
    assert "only 3 left" in told
    assert apiframe.sandbox.stats["created"] == 1
    assert (await alices_usage_today(bot, discord_standin)).today == 1


async def test_moderators_can_turn_a_tool_off(
    bot: object, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    discord_standin.add_member("staff", roles=[discord_standin.staff_role])
    await admin(discord_standin, "features", upscale=False)
    image = await generated(discord_standin, resolution="0.5MP")
    handle = await discord_standin.click(image, button(image, "upscale-subtle"))
    await discord_standin.wait_for(lambda: bool(handle.followups))
    assert handle.followups[0].ephemeral
    assert "Upscaling is turned off" in handle.followups[0].content
    zoom = await discord_standin.click(image, button(image, "zoom-2"))
    assert (await zoom.wait_original(done, timeout=20)).attachments  # the others still work
    assert [b["model"] for b in submitted(apiframe)] == ["flux-2-max", "flux-fill-pro"]


async def test_a_restart_in_the_middle_of_an_upscale_delivers_it_once(
    bot_process: BotProcess, discord_standin: LocalDiscord, apiframe: ApiframeSandbox
) -> None:
    await bot_process.start()
    await discord_standin.wait_ready(timeout=30)
    image = await generated(discord_standin, resolution="0.5MP")
    apiframe.sandbox.config.processing_seconds = 3
    handle = await discord_standin.click(image, button(image, "upscale-subtle"))
    await discord_standin.wait_for(lambda: len(apiframe.sandbox.requests) == 2, timeout=15)
    await bot_process.kill()
    await bot_process.start()
    final = await handle.wait_original(done, timeout=40)
    assert final.attachments
    assert fields(final)["Upscale"] == "Subtle (Topaz) ×2"
    await asyncio.sleep(1.0)
    assert apiframe.sandbox.stats["created"] == 2  # the generation and one upscale
    posts = [e for e in discord_standin.server.timeline if e.attachments]
    assert len(posts) == 2
