"""Moderation end to end: staff set the policy with /flux-admin in the local Discord, members
meet it with /flux, the audit channel and the usage reports show what happened."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from typing import Any

import pytest
from PIL import Image

from bot.apiframe.sandbox import Outcome
from tests.conftest import ApiframeSandbox, RunningBot
from tests.discord_standin import LocalDiscord
from tests.discord_standin.state import Message
from tests.e2e.test_flux import done, png, submitted

MANAGE_GUILD = 1 << 5
RELATIVE_TIME = re.compile(r"<t:\d+:R>")


def ready(message: Message) -> bool:
    """An answer, not the "thinking…" placeholder."""
    return bool(message.content or message.embeds)


async def admin(
    standin: LocalDiscord, sub: str, user: str = "staff", locale: str = "en-US", **options: Any
) -> Message:
    """Run `/flux-admin <sub>` (from a moderator whose Discord is set to `locale`) and return
    the (private) answer."""
    handle = await standin.invoke(
        "flux-admin", user=user, subcommand=sub, options=options, locale=locale
    )
    answer = await handle.wait_original(ready)
    assert answer.ephemeral
    return answer


async def flux(
    standin: LocalDiscord, prompt: str = "a quiet harbour", user: str = "alice", **kw: Any
) -> tuple[Any, Message]:
    """Run /flux; returns the handle and what the member sees first that is not "thinking…":
    an ephemeral refusal (a follow-up, or the original for refusals made before deferring)
    or the original response of a running job."""
    channel = kw.pop("channel", None)
    attachments = kw.pop("attachments", None)
    handle = await standin.invoke(
        "flux",
        user=user,
        channel=channel,
        options={"prompt": prompt, **kw},
        attachments=attachments,
    )

    def seen() -> bool:
        return bool(handle.followups) or (handle.original is not None and ready(handle.original))

    await standin.wait_for(seen, timeout=10)
    message = handle.followups[0] if handle.followups else handle.original
    assert message is not None
    return handle, message


async def refused(standin: LocalDiscord, prompt: str = "a quiet harbour", **kw: Any) -> str:
    """Run /flux expecting a refusal only the member sees; returns its text."""
    _handle, message = await flux(standin, prompt, **kw)
    assert message.ephemeral, message.content
    assert not message.attachments
    return message.content


async def generated(standin: LocalDiscord, prompt: str = "a quiet harbour", **kw: Any) -> Message:
    handle, _ = await flux(standin, prompt, **kw)
    return await handle.wait_original(done, timeout=20)


@pytest.fixture
def staff(discord_standin: LocalDiscord) -> Any:
    return discord_standin.add_member("staff", roles=[discord_standin.staff_role])


def audit_embeds(standin: LocalDiscord) -> list[dict[str, Any]]:
    return [e for m in standin.messages(standin.art) for e in m.embeds]


async def wait_audit(standin: LocalDiscord, title: str, timeout: float = 10) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def check() -> bool:
        found[:] = [e for e in audit_embeds(standin) if title in e.get("title", "")]
        return bool(found)

    await standin.wait_for(check, timeout)
    return found[-1]


ADMIN_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("show", {}),
    ("channel allow", {"channel": "art"}),
    ("channel remove", {"channel": "art"}),
    ("channel everywhere", {}),
    ("channel threads", {"inherit": False}),
    ("role allow", {"role": "staff"}),
    ("role remove", {"role": "staff"}),
    ("role everyone", {}),
    ("ban", {"member": "bob", "reason": "spam"}),
    ("unban", {"member": "bob"}),
    ("limits", {"daily": 1}),
    ("tier set", {"role": "staff", "daily": 0}),
    ("tier remove", {"role": "staff"}),
    ("features", {"upsampling": False}),
    ("budget", {"credits": 10}),
    ("rule add", {"kind": "word", "text": "dragon"}),
    ("rule remove", {"text": "dragon"}),
    ("rule list", {}),
    ("adult allow", {"enabled": True}),
    ("adult add-term", {"term": "boudoir"}),
    ("adult remove-term", {"term": "boudoir"}),
    ("audit-channel", {"channel": "art"}),
    ("language", {"language": "fr"}),
    ("manager add", {"role": "staff"}),
    ("manager remove", {"role": "staff"}),
    ("reset", {"confirm": True}),
    ("usage", {}),
]


def _option(standin: LocalDiscord, name: str, value: Any) -> Any:
    if name == "channel":
        return {"art": standin.art, "general": standin.general}[value]
    if name == "role":
        return standin.staff_role
    if name == "member":
        return standin.members[value]
    return value


async def test_every_admin_subcommand_refuses_members_without_permission(
    bot_runner: RunningBot, discord_standin: LocalDiscord, staff: Any
) -> None:
    """The group is hidden by default (Manage Server) and checked again on every use."""
    bot = await bot_runner.start()
    synced = discord_standin.commands["flux-admin"]
    assert synced["default_member_permissions"] == str(MANAGE_GUILD)
    declared = {
        f"{o['name']} {s['name']}" if o["type"] == 2 else o["name"]
        for o in synced["options"]
        for s in (o.get("options", []) if o["type"] == 2 else [o])
    }
    assert declared == {sub for sub, _ in ADMIN_CALLS}
    for sub, options in ADMIN_CALLS:
        values = {k: _option(discord_standin, k, v) for k, v in options.items()}
        handle = await discord_standin.invoke(
            "flux-admin", user="alice", subcommand=sub, options=values
        )
        answer = await handle.wait_original(ready)
        assert answer.ephemeral, sub
        assert "Manage Server" in answer.content, (sub, answer.content)
    policy = await bot.guild_policy(discord_standin.guild.id)
    assert policy == bot.policy_defaults
    # Staff may; a manager role then lets a member in, but not to change manager roles.
    await admin(discord_standin, "manager add", role=_helper_role(discord_standin))
    assert (
        "Images per day" in (await admin(discord_standin, "limits", user="helper", daily=3)).content
    )
    refusal = await admin(
        discord_standin, "manager remove", user="helper", role=_helper_role(discord_standin)
    )
    assert "Manage Server" in refusal.content


def _helper_role(standin: LocalDiscord) -> Any:
    return next(r for r in standin.guild.roles.values() if r.name == "Helpers")


@pytest.fixture
def helper(discord_standin: LocalDiscord) -> Any:
    role = discord_standin.add_role("Helpers", 0)
    return discord_standin.add_member("helper", roles=[role])


@pytest.fixture(autouse=True)
def _helper_member(helper: Any) -> None:
    """Roles must exist before the bot connects (it learns them from GUILD_CREATE)."""


async def test_changes_are_answered_and_audited(
    bot_runner: RunningBot, discord_standin: LocalDiscord, staff: Any
) -> None:
    await bot_runner.start()
    answer = await admin(discord_standin, "audit-channel", channel=discord_standin.art)
    assert f"<#{discord_standin.art.id}>" in answer.content
    answer = await admin(discord_standin, "limits", daily=2, cooldown=30)
    assert "**Images per day**: no limit → 2" in answer.content
    assert "**Cooldown**: none → 30 s" in answer.content
    entry = await wait_audit(discord_standin, "Settings changed")
    assert "no limit → 2" in entry["description"]
    assert entry["fields"][0]["value"] == f"<@{staff.id}>"
    again = await admin(discord_standin, "limits", daily=2)
    assert "Nothing changed" in again.content
    shown = await admin(discord_standin, "show")
    text = " ".join(f["value"] for f in shown.embeds[0]["fields"])
    assert "Images per day: 2" in text
    assert "Cooldown: 30 s" in text


async def test_language_sets_posts_for_everyone_and_moderators_read_their_own(
    bot_runner: RunningBot, discord_standin: LocalDiscord, staff: Any
) -> None:
    """`/flux-admin language` chooses the audit log's language (stored in the policy, shown
    in the overview); each moderator's own answers stay in their Discord's language; "server
    default" follows the server's again."""
    bot = await bot_runner.start()
    standin = discord_standin
    language = next(o for o in standin.commands["flux-admin"]["options"] if o["name"] == "language")
    choices = {c["value"]: c for c in language["options"][0]["choices"]}
    assert set(choices) == {"server", "en", "de", "fr", "es", "pt_BR", "ja"}
    assert choices["de"]["name"] == "Deutsch"
    assert choices["server"]["name_localizations"]["de"].startswith("Serverstandard")
    await admin(standin, "audit-channel", channel=standin.art)
    answer = await admin(standin, "language", language="fr")
    assert "**Language of posts everyone reads**: server default → Français" in answer.content
    assert (await bot.guild_policy(standin.guild.id)).language == "fr"

    def audited(line: str) -> Any:
        return lambda: any(line in e.get("description", "") for e in audit_embeds(standin))

    await standin.wait_for(audited("Langue des publications pour tous"))
    answer = await admin(standin, "limits", locale="de", daily=1234)
    assert "**Bilder pro Tag**: kein Limit → 1.234" in answer.content
    await standin.wait_for(audited("**Images par jour**: aucune limite → 1\u202f234"))
    shown = await admin(standin, "show", locale="ja")
    overview = shown.embeds[0]
    assert overview["title"] == "画像ボットの設定"
    assert "Français" in overview["fields"][-1]["value"]
    answer = await admin(standin, "language", language="server")
    assert "Français → server default" in answer.content
    assert (await bot.guild_policy(standin.guild.id)).language is None
    await standin.wait_for(audited("**Language of posts everyone reads**: Français → server"))
    shown = await admin(standin, "show")
    assert "server default (English)" in shown.embeds[0]["fields"][-1]["value"]
    # A member's own /flux-usage is in their language, whatever the server's.
    handle = await standin.invoke("flux-usage", user="alice", locale="pt-BR")
    usage = (await handle.wait_original(ready)).embeds[0]
    assert usage["title"] == "Seu uso de imagens"
    fields = {f["name"]: f["value"] for f in usage["fields"]}
    assert fields["Hoje"].startswith("0 de 1.234 usadas, **restam 1.234**")


async def test_rule_changes_name_the_entries_and_refuse_useless_ones(
    bot_runner: RunningBot, discord_standin: LocalDiscord, staff: Any
) -> None:
    await bot_runner.start()
    standin = discord_standin
    await admin(standin, "audit-channel", channel=standin.art)
    answer = await admin(standin, "rule add", kind="word", text="Dragon")
    assert "**Blocked words**: none → 1 entry (+`dragon`)" in answer.content
    answer = await admin(standin, "rule add", kind="pattern", text=r"wy?rm")
    assert "(+`wy?rm`)" in answer.content
    entry = await wait_audit(standin, "Settings changed")
    assert "+`wy?rm`" in entry["description"] or "+`dragon`" in entry["description"]
    assert (
        "already on the list"
        in (await admin(standin, "rule add", kind="word", text="dragon")).content
    )
    # "c++" would read as the single letter "c" and block "a piano in c major".
    assert "two letters" in (await admin(standin, "rule add", kind="word", text="c++")).content
    assert "two letters" in (await admin(standin, "adult add-term", term="!!")).content
    answer = await admin(standin, "rule remove", text="dragon")
    assert "1 entry → none (−`dragon`)" in answer.content
    assert "isn't blocked" in (await admin(standin, "rule remove", text="dragon")).content
    bob = standin.members["bob"]
    await admin(standin, "ban", member=bob, reason="spam")
    answer = await admin(standin, "ban", member=bob, reason="flooding")
    assert f"<@{bob.id}> (spam) → <@{bob.id}> (flooding)" in answer.content


async def test_simultaneous_rule_changes_all_land(
    bot_runner: RunningBot, discord_standin: LocalDiscord, staff: Any
) -> None:
    """Edits of one list run under the guild's lock on the stored policy, so none is lost."""
    await bot_runner.start()
    words = [f"word{i}" for i in range(8)]
    await asyncio.gather(*(admin(discord_standin, "rule add", kind="word", text=w) for w in words))
    listed = await admin(discord_standin, "rule list")
    field = next(f for f in listed.embeds[0]["fields"] if f["name"] == "Blocked words")
    assert sorted(re.findall(r"`(word\d)`", field["value"])) == words


async def test_refusals_in_order_each_with_its_message(
    bot_runner: RunningBot,
    bot_env: dict[str, str],
    discord_standin: LocalDiscord,
    apiframe: ApiframeSandbox,
    staff: Any,
) -> None:
    """Banned → channel → role → prompt → features: one clear private message each; nothing
    is sent to Apiframe and the audit log names the check."""
    await bot_runner.start()
    standin = discord_standin
    await admin(standin, "audit-channel", channel=standin.art)
    await admin(standin, "ban", member=standin.members["bob"], reason="spamming the channel")
    await admin(standin, "channel allow", channel=standin.general)
    await admin(standin, "role allow", role=standin.staff_role)
    # bob is banned, which is checked before the channel.
    text = await refused(standin, user="bob", channel=standin.art)
    assert "spamming the channel" in text
    # The wrong channel is checked before the role.
    text = await refused(standin, channel=standin.art)
    assert "isn't enabled in this channel" in text
    assert f"<#{standin.general.id}>" in text
    text = await refused(standin)
    assert "needs one of these roles" in text
    await admin(standin, "role everyone")
    await admin(standin, "rule add", kind="word", text="dragon")
    await admin(standin, "rule add", kind="pattern", text=r"\bcastle\s+\d+")
    text = await refused(standin, "a D R 4 G 0 N over the sea")
    assert "blocked" in text
    assert "dragon" not in text.lower()
    text = await refused(standin, "Castle 42 at dusk")
    assert "pattern" in text
    await admin(standin, "features", reference_images=False, upsampling=False, max_resolution="1MP")
    ref = standin.upload("ref.png", png(), "image/png")
    text = await refused(standin, attachments={"image": ref})
    assert "Reference images are turned off" in text
    text = await refused(standin, upsample=True)
    assert "upsampling is turned off" in text
    text = await refused(standin, resolution="2MP")
    assert "largest size you can use here is 1 MP" in text
    assert apiframe.sandbox.requests == []
    # A role tier can be more generous than everyone's cap.
    await admin(standin, "tier set", role=standin.staff_role, max_resolution="4MP")
    await generated(standin, user="staff", resolution="2MP")
    assert [b["fluxParams"]["resolution"] for b in submitted(apiframe)] == ["2MP"]
    entry = await wait_audit(standin, "Refused: feature")
    assert entry["fields"][0]["value"] == f"<@{standin.members['alice'].id}>"
    titles = [e["title"] for e in audit_embeds(standin)]
    for check in ("banned", "channel", "role", "prompt"):
        assert f"Refused: {check}" in titles
    generation = await wait_audit(standin, "Image generated")
    assert "Jump to the image" in generation["fields"][-1]["value"]


async def test_adult_terms_only_in_age_restricted_channels_and_never_minors(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, staff: Any
) -> None:
    await bot_runner.start()
    standin = discord_standin
    text = await refused(standin, "a nude figure study", channel=standin.adults)
    assert "isn't allowed on this server" in text
    await admin(standin, "adult allow", enabled=True)
    text = await refused(standin, "a nude figure study")
    assert "only allowed in age-restricted channels" in text
    await generated(standin, "a nude figure study", channel=standin.adults)
    text = await refused(standin, "a nude teen", channel=standin.adults)
    assert "minors" in text
    text = await refused(standin, "a nude celebrity", channel=standin.adults)
    assert "real people" in text
    await admin(standin, "adult add-term", term="boudoir")
    assert "adult content" in await refused(standin, "boudoir portrait")
    # A moderator's own adult term trips the built-in minors block too.
    assert "minors" in await refused(standin, "a boudoir teen", channel=standin.adults)
    assert len(apiframe.sandbox.requests) == 1


async def test_role_tiers_raise_the_daily_limit(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, staff: Any
) -> None:
    """Everyone 1 a day, Supporters 2, Staff unlimited: the most generous role wins."""
    standin = discord_standin
    supporter = standin.add_role("Supporter", 0)
    standin.add_member("fan", roles=[supporter])
    await bot_runner.start()
    await admin(standin, "limits", daily=1)
    await admin(standin, "tier set", role=supporter, daily=2)
    await admin(standin, "tier set", role=standin.staff_role, daily=0)
    for user, allowed in (("alice", 1), ("fan", 2), ("staff", 3)):
        for _ in range(allowed):
            await generated(standin, user=user)
    assert "your one image for today" in await refused(standin, user="alice")
    assert "all 2 of your images for today" in await refused(standin, user="fan")
    assert apiframe.sandbox.stats["created"] == 6


async def test_cooldown_in_flight_and_daily_quota(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, staff: Any
) -> None:
    await bot_runner.start()
    standin = discord_standin
    await admin(standin, "limits", cooldown=60)
    await generated(standin)
    text = await refused(standin)
    assert "wait a little" in text
    assert RELATIVE_TIME.search(text)
    await admin(standin, "limits", cooldown=0, in_flight=1, daily=2)
    apiframe.sandbox.config.processing_seconds = 3
    first, _ = await flux(standin, "slow one")
    text = await refused(standin)
    assert "already have 1 image on the way" in text
    await first.wait_original(done, timeout=20)
    text = await refused(standin)
    assert "all 2 of your images for today" in text
    assert RELATIVE_TIME.search(text)
    # /flux-usage says the same.
    handle = await standin.invoke("flux-usage", user="alice")
    usage = await handle.wait_original(ready)
    assert usage.ephemeral
    fields = {f["name"]: f["value"] for f in usage.embeds[0]["fields"]}
    assert fields["Today"].startswith("2 of 2 used, **0 left**")
    assert RELATIVE_TIME.search(fields["Today"])


async def test_failed_jobs_are_never_counted(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, staff: Any
) -> None:
    """A failure releases the member's reservation at once."""
    await bot_runner.start()
    standin = discord_standin
    await admin(standin, "limits", daily=1)
    apiframe.sandbox.add_outcome(Outcome(status="FAILED", error="Provider returned 500"))
    handle, _ = await flux(standin, "doomed")
    failed = await handle.wait_original(done, timeout=20)
    assert not failed.attachments
    await generated(standin, "second try")
    assert "today" in await refused(standin)


async def test_simultaneous_commands_never_exceed_the_quota(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, staff: Any
) -> None:
    await bot_runner.start()
    standin = discord_standin
    await admin(standin, "audit-channel", channel=standin.art)
    await admin(standin, "limits", daily=3, in_flight=50)
    handles = await asyncio.gather(
        *(standin.invoke("flux", user="alice", options={"prompt": f"race {i}"}) for i in range(12))
    )

    def settled() -> bool:
        return all(h.followups or (h.original and ready(h.original)) for h in handles)

    await standin.wait_for(settled, timeout=20)
    refusals = [h for h in handles if h.followups]
    assert len(refusals) == 9
    assert all("today" in h.followups[0].content for h in refusals)
    for h in handles:
        if not h.followups:
            await h.wait_original(done, timeout=30)
    assert apiframe.sandbox.stats["created"] == 3
    # The audit log batched 2 changes, 9 refusals and 3 images into a few messages.
    await standin.wait_for(lambda: len(audit_embeds(standin)) == 14, timeout=10)
    posts = standin.messages(standin.art)
    sizes = [len(m.embeds) for m in posts]
    assert all(size <= 10 for size in sizes), sizes
    # Fourteen entries, fewer posts: entries that arrive within a flush window share one.
    assert len(posts) < 14, sizes


async def test_budget_warning_then_stop(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, staff: Any
) -> None:
    """1 MP costs 7 credits: with a budget of 21 and a warning at 50 %, the second image warns,
    the third uses the budget up and the next is refused, which the audit channel hears once.
    (Each announcement counts what is spent and reserved when it runs: a budget of 20 would
    be used up, not warned of, at 14, as 6 credits make no image.)"""
    await bot_runner.start()
    standin = discord_standin
    await admin(standin, "audit-channel", channel=standin.art)
    await admin(standin, "budget", credits=21, warn_percent=50)
    await generated(standin, resolution="1MP")
    await generated(standin, resolution="1MP", user="bob")
    warning = await wait_audit(standin, "Monthly budget used: 66 %")
    assert "14 of 21 credits" in warning["description"]
    await generated(standin, resolution="1MP")
    stop = await wait_audit(standin, "budget used up")
    assert stop["title"].startswith("Monthly budget used up")
    text = await refused(standin, resolution="1MP")
    assert "budget" in text
    assert RELATIVE_TIME.search(text)
    await refused(standin, resolution="0.5MP", user="bob")
    await asyncio.sleep(0.5)
    titles = [e["title"] for e in audit_embeds(standin)]
    assert sum("used up" in t for t in titles) == 1
    assert sum("used: 66 %" in t for t in titles) == 1


async def test_a_job_too_big_for_what_is_left_is_no_budget_stop(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, staff: Any
) -> None:
    """With 14 of 21 credits left a 4 MP image (16) is refused, but smaller ones still fit:
    the audit channel hears of no stop, and a 1 MP image goes through."""
    await bot_runner.start()
    standin = discord_standin
    await admin(standin, "audit-channel", channel=standin.art)
    await admin(standin, "budget", credits=21, warn_percent=100)
    await generated(standin, resolution="1MP")
    assert "budget" in await refused(standin, resolution="4MP", user="bob")
    await generated(standin, resolution="1MP", user="bob")
    await asyncio.sleep(0.5)
    assert not [e for e in audit_embeds(standin) if "used up" in e.get("title", "")]


async def test_usage_report_and_csv_export(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, staff: Any
) -> None:
    """The table, a chart of the period (images and credits per day, the top members) and,
    asked for, the CSV."""
    await bot_runner.start()
    standin = discord_standin
    await generated(standin, resolution="2MP")
    await generated(standin, resolution="2MP")
    await generated(standin, resolution="1MP", user="bob")
    report = await admin(standin, "usage", export=True)
    embed = report.embeds[0]
    assert "**3** images, **27** credits" in embed["description"]
    top = embed["fields"][0]["value"]
    alice, bob = standin.members["alice"].id, standin.members["bob"].id
    assert top.index(f"<@{alice}>") < top.index(f"<@{bob}>")
    chart, attachment = report.attachments
    assert embed["image"]["url"] == "attachment://flux-usage.png"
    assert chart["filename"] == "flux-usage.png"
    picture = standin.server.files[(report.channel_id, int(chart["id"]))].data
    with Image.open(io.BytesIO(picture)) as drawn:
        # Opaque all over (the same card in dark and light themes), and drawn on: the bars'
        # colour is there.
        assert drawn.size == (1000, 500)
        rgba = drawn.convert("RGBA")
        assert rgba.getextrema()[3] == (255, 255)
        assert (0x58, 0x65, 0xF2, 255) in {colour for _, colour in rgba.getcolors(1 << 20)}
    assert attachment["filename"].endswith(".csv")
    stored = standin.server.files[(report.channel_id, int(attachment["id"]))]
    rows = list(csv.DictReader(io.StringIO(stored.data.decode())))
    assert [(r["user_id"], r["generations"], r["credits"]) for r in rows] == [
        (str(alice), "2", "20"),
        (str(bob), "1", "7"),
    ]


async def test_undoing_each_setting_restores_access(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, staff: Any
) -> None:
    """unban, channel remove/everywhere, role remove, tier remove, rule remove/list, adult
    remove-term, the monthly quota and reset, each seen from the member's side."""
    bot = await bot_runner.start()
    standin = discord_standin
    bob = standin.members["bob"]
    await admin(standin, "ban", member=bob)
    assert "no reason given" in await refused(standin, user="bob")
    await admin(standin, "unban", member=bob)
    await generated(standin, "unbanned", user="bob")

    await admin(standin, "channel allow", channel=standin.art)
    await admin(standin, "channel allow", channel=standin.adults)
    await admin(standin, "channel remove", channel=standin.art)
    assert "isn't enabled" in await refused(standin, channel=standin.art)
    await admin(standin, "channel everywhere")
    await generated(standin, "anywhere again", channel=standin.art)

    await admin(standin, "role allow", role=standin.staff_role)
    await admin(standin, "role remove", role=standin.staff_role)
    await generated(standin, "everyone again")

    await admin(standin, "features", max_resolution="1MP")
    await admin(standin, "tier set", role=standin.staff_role, max_resolution="2MP")
    await admin(standin, "tier remove", role=standin.staff_role)
    assert "1 MP" in await refused(standin, user="staff", resolution="2MP")

    await admin(standin, "rule add", kind="word", text="kraken")
    listed = await admin(standin, "rule list")
    assert "`kraken`" in listed.embeds[0]["fields"][0]["value"]
    await admin(standin, "rule remove", text="Kraken")
    await generated(standin, "a kraken at sea")

    await admin(standin, "adult allow", enabled=True)
    await admin(standin, "adult remove-term", term="lingerie")
    await generated(standin, "a lingerie catalogue")

    await admin(standin, "limits", monthly=4, cooldown=0)  # alice made 4 above
    text = await refused(standin)
    assert "all 4 of your images for this month" in text
    assert RELATIVE_TIME.search(text)
    answer = await admin(standin, "reset", confirm=True)
    assert "Images per month" in answer.content
    assert await bot.guild_policy(standin.guild.id) == bot.policy_defaults


async def test_delete_button_is_for_the_asker_and_moderators(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, staff: Any
) -> None:
    """Anyone else is told who may delete; the asker and a member who can manage messages
    remove the image, and the audit log notes who did."""
    await bot_runner.start()
    standin = discord_standin
    await admin(standin, "audit-channel", channel=standin.art)
    moderator = standin.add_member("mod", roles=[standin.add_role("Mods", 1 << 13)])
    images = []
    for prompt in ("a kite", "a second kite"):
        handle = await standin.invoke("flux", options={"prompt": prompt})
        images.append(await handle.wait_original(done, timeout=20))

    def delete_id(message: Message) -> str:
        return next(c for c in message.custom_ids() if c.startswith("flux:delete:"))

    refused = await standin.click(images[0], delete_id(images[0]), user="bob")
    # The click is acknowledged first; the refusal follows, privately.
    await standin.wait_for(lambda: bool(refused.followups), timeout=5)
    notice = refused.followups[0]
    assert notice.ephemeral
    assert "Only the member who asked" in notice.content
    assert not standin.server.messages[images[0].id].deleted

    await standin.click(images[0], delete_id(images[0]), user=moderator)
    await standin.click(images[1], delete_id(images[1]), user="alice")
    await standin.wait_for(
        lambda: all(standin.server.messages[m.id].deleted for m in images), timeout=10
    )

    def deletions() -> list[dict[str, Any]]:
        return [e for e in audit_embeds(standin) if e.get("title") == "Image deleted"]

    await standin.wait_for(lambda: len(deletions()) == 2, timeout=10)
    entries = deletions()
    deleters = {f["value"] for e in entries for f in e["fields"] if f["name"] == "Deleted by"}
    assert deleters == {f"<@{moderator.id}>", f"<@{standin.members['alice'].id}>"}
    assert apiframe.sandbox.stats["created"] == 2


async def test_threads_follow_their_channel_unless_told_not_to(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, staff: Any
) -> None:
    """A thread counts as its channel (allow-list and age restriction) until `channel threads`
    turns that off; then a thread is allowed only when listed itself."""
    standin = discord_standin
    alice = standin.members["alice"]
    art_thread = standin.server.add_thread(standin.art, "art ideas", alice)
    adult_thread = standin.server.add_thread(standin.adults, "late sketches", alice)
    await bot_runner.start()
    await admin(standin, "channel allow", channel=standin.art)
    await admin(standin, "channel allow", channel=standin.adults)
    await admin(standin, "adult allow", enabled=True)
    await generated(standin, "a sketchbook", channel=art_thread)
    await generated(standin, "a nude figure study", channel=adult_thread)
    text = await refused(standin, "a nude figure study", channel=art_thread)
    assert "only allowed in age-restricted channels" in text

    await admin(standin, "channel threads", inherit=False)
    assert "isn't enabled in this channel" in await refused(standin, channel=art_thread)
    assert len(apiframe.sandbox.requests) == 2
    # Not following its channel, a thread can be listed itself.
    await admin(standin, "channel allow", channel=art_thread)
    await generated(standin, "a sketchbook", channel=art_thread)


async def test_out_of_credits_reaches_the_audit_channel_once(
    bot_runner: RunningBot, discord_standin: LocalDiscord, apiframe: ApiframeSandbox, staff: Any
) -> None:
    """Members are told the credits needed and left, and that the admins know; the audit
    channel gets the numbers, once while every job fails the same way."""
    await bot_runner.start()
    standin = discord_standin
    await admin(standin, "audit-channel", channel=standin.art)
    apiframe.sandbox.config.credits = 1
    for prompt in ("first try", "second try"):
        handle, _ = await flux(standin, prompt)
        final = await handle.wait_original(done, timeout=20)
        told = final.embeds[0]["description"]
        assert "out of image credits: this needed 7 and its account has only 1 left" in told
        assert "only 1 left" in told
        assert "admins have been told" in told
    entry = await wait_audit(standin, "Generation failed: credits")
    assert "needed 7, available 1" in entry["description"]
    await asyncio.sleep(0.5)  # past an audit flush
    failures = [e for e in audit_embeds(standin) if "failed" in e.get("title", "")]
    assert len(failures) == 1
