"""Members' defaults, presets, history, forget-me and the history purge, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.jobs.defaults import MAX_PRESETS, MemberDefaults, Preset, PresetRefused
from bot.jobs.request import REMOVED, Generate, Upscale
from bot.moderation.gate import Limits
from bot.storage.db import Database
from bot.storage.guilds import GuildStore
from bot.storage.history import FORGOTTEN_USER, HistoryStore
from bot.storage.jobs import JobRecord, JobStore
from bot.storage.members import MemberStore
from tests.storage.test_jobs import move, new_job

GUILD, OTHER_GUILD = 30, 31
ALICE, BOB = 10, 11
NOW = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)


async def made(
    db: Database, when: datetime, *, state: str = "delivered", **fields: Any
) -> JobRecord:
    """A job created at `when` and taken to `state`."""
    fields.setdefault("user_id", ALICE)
    fields.setdefault("guild_id", GUILD)
    job = await GuildStore(db).reserve(new_job(**fields), Limits(estimate=7), when)
    assert isinstance(job, JobRecord)
    if state == "pending":
        return job
    urls = {"result_urls": [f"https://cdn.example/{job.id}.png"]} if state == "delivered" else {}
    return await move(JobStore(db), job.id, state, **urls)


async def test_defaults_merge_per_server_and_reset(database: Database) -> None:
    """Each `set` changes only the options given; each server keeps its own; reset clears."""
    store = MemberStore(database)
    assert await store.defaults(GUILD, ALICE) == MemberDefaults()
    await store.set_defaults(GUILD, ALICE, resolution="4MP", aspect_ratio="16:9")
    both = await store.set_defaults(GUILD, ALICE, output_format="png", resolution=None)
    assert both == MemberDefaults(resolution="4MP", aspect_ratio="16:9", output_format="png")
    assert await store.defaults(GUILD, ALICE) == both
    assert await store.defaults(OTHER_GUILD, ALICE) == MemberDefaults()
    assert await store.defaults(GUILD, BOB) == MemberDefaults()
    assert await store.reset_defaults(GUILD, ALICE)
    assert not await store.reset_defaults(GUILD, ALICE)
    assert await store.defaults(GUILD, ALICE) == MemberDefaults()


async def test_presets_save_replace_limit_and_delete(database: Database) -> None:
    """A name is one preset whatever its case; at most MAX_PRESETS; profile reads both."""
    store = MemberStore(database)
    cinema = Preset(name="Cinema", defaults=MemberDefaults(aspect_ratio="16:9"), suffix="35mm")
    assert not await store.save_preset(GUILD, ALICE, cinema)
    assert await store.save_preset(GUILD, ALICE, cinema.model_copy(update={"suffix": "70mm"}))
    await store.set_defaults(GUILD, ALICE, quality=80)
    defaults, found = await store.profile(GUILD, ALICE, "cinema")
    assert defaults == MemberDefaults(quality=80)
    assert found == cinema.model_copy(update={"suffix": "70mm"})
    assert (await store.profile(GUILD, ALICE, "nope"))[1] is None
    assert await store.presets(OTHER_GUILD, ALICE) == []
    for n in range(MAX_PRESETS - 1):
        await store.save_preset(GUILD, ALICE, Preset(name=f"p{n}"))
    with pytest.raises(PresetRefused, match="already have 10 presets"):
        await store.save_preset(GUILD, ALICE, Preset(name="one too many"))
    assert len(await store.presets(GUILD, ALICE)) == MAX_PRESETS
    assert await store.delete_preset(GUILD, ALICE, "CINEMA") == "Cinema"
    assert await store.delete_preset(GUILD, ALICE, "cinema") is None
    assert [p.name for p in await store.presets(GUILD, ALICE)][:2] == ["p0", "p1"]


async def test_history_is_the_members_own_images_newest_first(database: Database) -> None:
    """Only made images (not failed or waiting ones), only this member's in this server,
    newest first, in pages; filters by kind and by a word in any case."""
    base = NOW - timedelta(days=1)
    mine = [await made(database, base + timedelta(minutes=i), prompt=f"cat {i}") for i in range(7)]
    await made(database, base, prompt="a cat, failed", state="failed")
    await made(database, base, prompt="a cat, waiting", state="pending")
    await made(database, base, prompt="bob's cat", user_id=BOB)
    await made(database, base, prompt="a cat elsewhere", guild_id=OTHER_GUILD)
    upscale = Upscale(image="https://cdn.example/x.png", seed=5)
    big = await made(database, NOW, prompt="100% Cat_Big", request=upscale)
    store = HistoryStore(database)

    first = await store.page(GUILD, ALICE, size=5)
    assert (first.total, first.pages, first.page) == (8, 2, 0)
    assert [e.job_id for e in first.entries] == [big.id] + [j.id for j in mine[::-1][:4]]
    assert first.entries[0].kind == "upscale"
    assert first.entries[0].seed == 5
    assert first.entries[0].result_url == f"https://cdn.example/{big.id}.png"
    second = await store.page(GUILD, ALICE, page=1, size=5)
    assert [e.prompt for e in second.entries] == ["cat 2", "cat 1", "cat 0"]
    assert (await store.page(GUILD, ALICE, page=9, size=5)).page == 1  # past the end: the last

    assert [e.job_id for e in (await store.page(GUILD, ALICE, kind="upscale")).entries] == [big.id]
    assert (await store.page(GUILD, ALICE, word="CAT")).total == 8
    assert [e.prompt for e in (await store.page(GUILD, ALICE, word="100%")).entries] == [
        "100% Cat_Big"
    ]
    assert (await store.page(GUILD, ALICE, word="0%")).total == 1  # % is a letter here
    assert (await store.page(GUILD, ALICE, word="t_b")).total == 1
    assert (await store.page(GUILD, ALICE, word="t b")).total == 0
    empty = await store.page(GUILD, BOB + 1)
    assert (empty.entries, empty.total, empty.pages) == ([], 0, 1)


async def test_forget_me_removes_the_member_and_keeps_the_numbers(database: Database) -> None:
    """Prompts, images, references, defaults and presets go, in every server; another
    member's keep. The rows stay for the totals: this month's still count against the
    member's quota, older ones are anonymous."""
    members, history, guilds = MemberStore(database), HistoryStore(database), GuildStore(database)
    old = NOW - timedelta(days=40)
    reference = Generate(resolution="1MP", references=("https://cdn.discord/ref.png",), seed=1)
    recent = await made(database, NOW - timedelta(hours=1), request=reference, prompt="mine")
    last_month = await made(database, old, prompt="old one")
    elsewhere = await made(database, NOW, guild_id=OTHER_GUILD, prompt="over there")
    bobs = await made(database, NOW, user_id=BOB, prompt="bob's")
    await members.set_defaults(GUILD, ALICE, resolution="2MP")
    await members.set_defaults(OTHER_GUILD, ALICE, private=True)
    await members.save_preset(GUILD, ALICE, Preset(name="mine", suffix="oil"))
    await members.set_defaults(GUILD, BOB, resolution="4MP")
    await members.save_preset(GUILD, BOB, Preset(name="bob's"))
    totals_before = await guilds.report(GUILD, old - timedelta(days=1), NOW + timedelta(days=1))
    used_before = await guilds.usage(GUILD, ALICE, NOW)
    budget_before = await guilds.guild_credits(GUILD, NOW)

    done = await history.forget(ALICE, NOW)

    assert (done.jobs, done.defaults, done.presets, done.busy) == (3, 2, 1, 0)
    store = JobStore(database)
    for job in (recent, last_month, elsewhere):
        gone = await store.get(job.id)
        assert gone is not None
        assert (gone.prompt, gone.result_urls, gone.scrubbed) == ("", [], "forgotten")
        assert gone.interaction_token is None
    after = await store.get(recent.id)
    assert after is not None
    assert after.request == reference.changed(references=())
    assert after.user_id == ALICE  # still counts towards this month's quota
    assert (await store.get(last_month.id)).user_id == FORGOTTEN_USER  # type: ignore[union-attr]
    assert (await history.page(GUILD, ALICE)).total == 0
    assert (await history.page(GUILD, BOB)).entries[0].prompt == "bob's"
    assert (await store.get(bobs.id)).prompt == "bob's"  # type: ignore[union-attr]
    assert await members.defaults(GUILD, ALICE) == MemberDefaults()
    assert await members.defaults(OTHER_GUILD, ALICE) == MemberDefaults()
    assert await members.presets(GUILD, ALICE) == []
    assert await members.defaults(GUILD, BOB) == MemberDefaults(resolution="4MP")
    assert [p.name for p in await members.presets(GUILD, BOB)] == ["bob's"]
    # The numbers: the server's totals are the same, the member's quota is not reset.
    totals_after = await guilds.report(GUILD, old - timedelta(days=1), NOW + timedelta(days=1))
    assert sum(t.generations for t in totals_after) == sum(t.generations for t in totals_before)
    assert sum(t.credits for t in totals_after) == sum(t.credits for t in totals_before)
    assert {t.user_id for t in totals_after} == {ALICE, BOB, FORGOTTEN_USER}
    assert await guilds.usage(GUILD, ALICE, NOW) == used_before
    assert await guilds.guild_credits(GUILD, NOW) == budget_before

    # Next month the kept rows no longer count for anything: they become anonymous too.
    assert await history.anonymise_forgotten(NOW) == 0
    assert await history.anonymise_forgotten(NOW + timedelta(days=31)) == 2
    assert (await store.get(recent.id)).user_id == FORGOTTEN_USER  # type: ignore[union-attr]
    assert (await store.get(bobs.id)).user_id == BOB  # type: ignore[union-attr]


async def test_forget_me_waits_for_images_on_the_way(database: Database) -> None:
    """A job still running needs its prompt to be posted: nothing is removed until it ends."""
    await made(database, NOW, prompt="kept")
    await made(database, NOW, prompt="running", state="processing")
    await MemberStore(database).set_defaults(GUILD, ALICE, quality=5)
    done = await HistoryStore(database).forget(ALICE, NOW)
    assert done.busy == 1
    assert done.jobs == 0
    assert (await HistoryStore(database).page(GUILD, ALICE)).total == 1
    assert await MemberStore(database).defaults(GUILD, ALICE) == MemberDefaults(quality=5)


async def test_purge_scrubs_only_what_is_older(database: Database) -> None:
    """HISTORY_DAYS: prompts and images of older settled jobs go, in batches; newer ones and
    the numbers stay."""
    old = [await made(database, NOW - timedelta(days=100), prompt=f"old {i}") for i in range(3)]
    new = await made(database, NOW - timedelta(days=10), prompt="new")
    upscale = Upscale(image="https://cdn.example/in.png", size=(512, 512), seed=2)
    old_upscale = await made(database, NOW - timedelta(days=95), request=upscale, prompt="up")
    history = HistoryStore(database)
    credits_before = await GuildStore(database).report(GUILD, NOW - timedelta(days=365), NOW)

    assert await history.purge(NOW - timedelta(days=90)) == 4
    assert await history.purge(NOW - timedelta(days=90)) == 0
    store = JobStore(database)
    for job in old:
        purged = await store.get(job.id)
        assert purged is not None
        assert (purged.prompt, purged.scrubbed, purged.user_id) == ("", "history", ALICE)
    upscaled = await store.get(old_upscale.id)
    assert upscaled is not None
    assert isinstance(upscaled.request, Upscale)
    assert (upscaled.request.image, upscaled.request.size) == (REMOVED, (512, 512))
    assert [e.job_id for e in (await history.page(GUILD, ALICE)).entries] == [new.id]
    assert await GuildStore(database).report(GUILD, NOW - timedelta(days=365), NOW) == (
        credits_before
    )
