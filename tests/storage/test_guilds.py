"""Guild policies, usage and atomic reservations, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.jobs.describe import kinds_summary
from bot.jobs.request import Generate, Outpaint, Upscale
from bot.jobs.service import CancelOutcome, JobService
from bot.moderation.gate import Limits, Refusal
from bot.moderation.policy import Check, GuildPolicy, Tier
from bot.storage.db import Database
from bot.storage.guilds import GuildStore
from bot.storage.jobs import JobRecord, JobStore
from bot.storage.migrations import migrate
from tests.storage.conftest import DatabaseFactory
from tests.storage.test_jobs import new_job

GUILD = 30
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DEFAULTS = GuildPolicy(per_day=5, cooldown_seconds=0)


async def test_policy_is_defaults_until_changed(database: Database) -> None:
    store = GuildStore(database)
    assert await store.policy(GUILD, DEFAULTS) == DEFAULTS
    change = await store.change(GUILD, DEFAULTS, per_day=7, banned={11: "spam"})
    assert change.before.per_day == 5
    assert change.after.per_day == 7
    stored = await store.policy(GUILD, DEFAULTS)
    assert stored.per_day == 7
    assert stored.banned == {11: "spam"}
    # A changed default reaches fields the guild never set, not the ones it did.
    newer = GuildPolicy(per_day=9, cooldown_seconds=30)
    again = await store.policy(GUILD, newer)
    assert (again.per_day, again.cooldown_seconds) == (7, 30)
    assert await store.policy(GUILD + 1, DEFAULTS) == DEFAULTS


async def test_tiers_round_trip_and_reset(database: Database) -> None:
    store = GuildStore(database)
    tier = Tier(role_id=99, per_day=None, max_resolution="4MP")
    await store.change(GUILD, DEFAULTS, tiers=(tier,))
    assert (await store.policy(GUILD, DEFAULTS)).tiers == (tier,)
    reset = await store.reset(GUILD, DEFAULTS)
    assert reset.before.tiers == (tier,)
    assert await store.policy(GUILD, DEFAULTS) == DEFAULTS


async def test_reservation_counts_only_what_did_not_fail(database: Database) -> None:
    store, jobs = GuildStore(database), JobStore(database)
    limits = Limits(per_day=2, estimate=7)
    first = await store.reserve(new_job(), limits, NOW)
    assert isinstance(first, JobRecord)
    assert first.reserved_credits == 7
    second = await store.reserve(new_job(), limits, NOW)
    assert isinstance(second, JobRecord)
    refused = await store.reserve(new_job(), limits, NOW)
    assert isinstance(refused, Refusal)
    assert refused.check is Check.QUOTA
    assert refused.retry_at == datetime(2026, 11, 26, tzinfo=UTC)
    # A failure releases its unit: the member may go again.
    await jobs.transition(first.id, {"pending"}, "failed", credit_cost=0)
    third = await store.reserve(new_job(), limits, NOW)
    assert isinstance(third, JobRecord)


async def test_budget_uses_real_cost_once_known(database: Database) -> None:
    store, jobs = GuildStore(database), JobStore(database)
    limits = Limits(monthly_budget=30, estimate=16)
    job = await store.reserve(new_job(), limits, NOW)
    assert isinstance(job, JobRecord)
    assert (await store.usage(GUILD, 10, NOW)).guild_credits == 16
    refused = await store.reserve(new_job(), limits, NOW)
    assert isinstance(refused, Refusal)
    assert refused.check is Check.BUDGET
    assert refused.retry_at == datetime(2026, 12, 1, tzinfo=UTC)
    # Apiframe billed less than the estimate: the difference is free again.
    await jobs.transition(job.id, {"pending"}, "submitting")
    await jobs.transition(job.id, {"submitting"}, "completed", credit_cost=10)
    assert await store.guild_credits(GUILD, NOW) == 10
    assert isinstance(await store.reserve(new_job(), limits, NOW), JobRecord)


async def test_cooldown_and_in_flight(database: Database) -> None:
    store = GuildStore(database)
    limits = Limits(cooldown_seconds=60, jobs_per_member=1)
    assert isinstance(await store.reserve(new_job(), limits, NOW), JobRecord)
    soon = await store.reserve(new_job(), limits, NOW + timedelta(seconds=10))
    assert isinstance(soon, Refusal)
    assert soon.check is Check.COOLDOWN
    assert soon.retry_at == NOW + timedelta(seconds=60)
    later = await store.reserve(new_job(), limits, NOW + timedelta(seconds=61))
    assert isinstance(later, Refusal)
    assert later.check is Check.IN_FLIGHT
    other_member = await store.reserve(new_job(user_id=12), limits, NOW)
    assert isinstance(other_member, JobRecord)


async def test_a_new_month_resets_quotas_but_not_cooldown_or_in_flight(
    database: Database,
) -> None:
    store = GuildStore(database)
    limits = Limits(per_month=1, cooldown_seconds=60, jobs_per_member=1)
    before_midnight = datetime(2026, 11, 30, 23, 59, 50, tzinfo=UTC)
    assert isinstance(await store.reserve(new_job(), limits, before_midnight), JobRecord)
    just_after = await store.reserve(new_job(), limits, before_midnight + timedelta(seconds=15))
    assert isinstance(just_after, Refusal)
    assert just_after.check is Check.COOLDOWN
    later = await store.reserve(new_job(), limits, before_midnight + timedelta(minutes=5))
    assert isinstance(later, Refusal)
    assert later.check is Check.IN_FLIGHT


async def test_usage_is_per_guild_and_per_period(database: Database) -> None:
    store = GuildStore(database)
    last_month = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    await store.reserve(new_job(), Limits(), last_month)
    await store.reserve(new_job(), Limits(), NOW - timedelta(days=1))
    await store.reserve(new_job(), Limits(), NOW)
    await store.reserve(new_job(guild_id=31), Limits(), NOW)
    usage = await store.usage(GUILD, 10, NOW)
    # Last month's job no longer counts against the quota, but it is still on the way.
    assert (usage.today, usage.this_month, usage.in_flight) == (1, 2, 3)
    assert usage.last_started_at == NOW
    dm = await store.reserve(new_job(guild_id=None), Limits(per_day=1), NOW)
    assert isinstance(dm, JobRecord)
    assert (await store.usage(None, 10, NOW)).today == 1


async def test_concurrent_reservations_never_exceed_the_quota(
    databases: DatabaseFactory,
) -> None:
    """Forty commands at the same instant through four engines (as four processes would)
    against a quota of five: exactly five are written."""
    await databases.migrate()
    stores = [GuildStore(databases.open()) for _ in range(4)]
    limits = Limits(per_day=5, jobs_per_member=None, monthly_budget=1000, estimate=10)
    results = await asyncio.gather(
        *(stores[i % 4].reserve(new_job(), limits, NOW) for i in range(40))
    )
    written = [r for r in results if isinstance(r, JobRecord)]
    refused = [r for r in results if isinstance(r, Refusal)]
    assert len(written) == 5
    assert {r.check for r in refused} == {Check.QUOTA}
    assert (await stores[0].usage(GUILD, 10, NOW)).today == 5


async def test_concurrent_reservations_never_exceed_the_budget(
    databases: DatabaseFactory,
) -> None:
    await databases.migrate()
    stores = [GuildStore(databases.open()) for _ in range(4)]
    limits = Limits(monthly_budget=100, estimate=16)
    results = await asyncio.gather(
        *(stores[i % 4].reserve(new_job(user_id=100 + i), limits, NOW) for i in range(20))
    )
    assert sum(isinstance(r, JobRecord) for r in results) == 6  # 6 × 16 = 96 ≤ 100
    assert await stores[0].guild_credits(GUILD, NOW) == 96


async def test_budget_announcements_happen_once_a_month(database: Database) -> None:
    store = GuildStore(database)
    assert await store.mark_budget(GUILD, "2026-11", "warned") is True
    assert await store.mark_budget(GUILD, "2026-11", "warned") is False
    assert await store.mark_budget(GUILD, "2026-11", "stopped") is True
    assert await store.mark_budget(GUILD, "2026-12", "warned") is True


async def test_report_totals_per_member(database: Database) -> None:
    store, jobs = GuildStore(database), JobStore(database)
    a = await store.reserve(new_job(user_id=1), Limits(), NOW)
    b = await store.reserve(new_job(user_id=1), Limits(), NOW)
    c = await store.reserve(new_job(user_id=2), Limits(), NOW)
    assert isinstance(a, JobRecord)
    assert isinstance(b, JobRecord)
    assert isinstance(c, JobRecord)
    for job, cost in ((a, 7), (c, 16)):
        await jobs.transition(job.id, {"pending"}, "submitting")
        await jobs.transition(job.id, {"submitting"}, "completed", credit_cost=cost)
    await jobs.transition(b.id, {"pending"}, "failed", credit_cost=0)
    rows = await store.report(GUILD, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert [(r.user_id, r.generations, r.credits, r.failures) for r in rows] == [
        (2, 1, 16, 0),
        (1, 1, 7, 1),
    ]


async def test_other_processes_see_a_change_within_the_cache_time(
    databases: DatabaseFactory,
) -> None:
    await databases.migrate()
    mine, other = GuildStore(databases.open()), GuildStore(databases.open(), cache_seconds=0.2)
    assert (await other.policy(GUILD, DEFAULTS)).per_day == 5
    await mine.change(GUILD, DEFAULTS, per_day=8)
    assert (await mine.policy(GUILD, DEFAULTS)).per_day == 8  # its own change: at once
    assert (await other.policy(GUILD, DEFAULTS)).per_day == 5  # cached
    await asyncio.sleep(0.25)
    assert (await other.policy(GUILD, DEFAULTS)).per_day == 8


async def test_cancelling_a_waiting_job_releases_it_and_is_no_failure(database: Database) -> None:
    """Only a job still in the local queue can be cancelled; then it counts for nothing and
    is not reported as a failure. Once the driver has taken it, it is too late."""
    store, jobs = GuildStore(database), JobStore(database)
    woken: list[bool] = []
    service = JobService(store, jobs, lambda: woken.append(True))
    limits = Limits(per_day=1)
    waiting = await store.reserve(new_job(user_id=1), limits, NOW)
    assert isinstance(waiting, JobRecord)
    assert await service.cancel_waiting(waiting.id, by_user_id=1) is CancelOutcome.CANCELLED
    assert woken == [True]
    assert await service.cancel_waiting(waiting.id, by_user_id=1) is CancelOutcome.ENDED
    started = await store.reserve(new_job(user_id=1), limits, NOW)  # the quota was released
    assert isinstance(started, JobRecord)
    await jobs.transition(started.id, {"pending"}, "submitting")
    assert await service.cancel_waiting(started.id, by_user_id=1) is CancelOutcome.STARTED
    assert await service.cancel_waiting("no-such-job", by_user_id=1) is CancelOutcome.UNKNOWN
    rows = await store.report(GUILD, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert [(r.user_id, r.generations, r.failures) for r in rows] == [(1, 0, 0)]


async def test_the_write_probe_finds_a_database_that_takes_no_writes(
    database: Database, tmp_path: Path
) -> None:
    """/healthz's probe writes a row and rolls it back: fine on a working database (leaving
    nothing behind), a one-line reason on one that is read-only."""
    store = GuildStore(database)
    assert await store.write_problem() is None
    assert await store.write_problem() is None  # nothing stayed behind to collide with
    path = tmp_path / "read-only.db"
    await migrate(f"sqlite:///{path}")
    read_only = Database(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    try:
        problem = await GuildStore(read_only).write_problem()
    finally:
        await read_only.dispose()
    assert problem == "cannot write to the database (OperationalError)"


async def test_report_breaks_usage_down_by_kind(database: Database) -> None:
    """Successful jobs per kind, per member; a failed upscale counts as a failure only."""
    store, jobs = GuildStore(database), JobStore(database)
    image = "https://cdn.example/a.png"
    asked = [
        (1, Generate(resolution="1MP"), "completed"),
        (1, Upscale(image=image), "completed"),
        (1, Upscale(image=image, mode="creative"), "failed"),
        (1, Outpaint(image=image, preset="Zoom out 2x"), "delivered"),
        (2, Outpaint(image=image, preset="Make square"), "completed"),
    ]
    for user_id, request, state in asked:
        job = await store.reserve(new_job(user_id=user_id, request=request), Limits(), NOW)
        assert isinstance(job, JobRecord)
        await jobs.transition(job.id, {"pending"}, "submitting")
        if state == "failed":
            await jobs.transition(job.id, {"submitting"}, "failed")
        else:
            await jobs.transition(job.id, {"submitting"}, "completed", credit_cost=3)
            if state == "delivered":
                await jobs.transition(job.id, {"completed"}, "delivered")
    since, until = NOW - timedelta(days=1), NOW + timedelta(days=1)
    rows = {r.user_id: r for r in await store.report(GUILD, since, until)}
    assert rows[1].by_kind == {"generate": 1, "upscale": 1, "outpaint": 1}
    assert (rows[1].generations, rows[1].failures, rows[1].credits) == (3, 1, 9)
    assert rows[2].by_kind == {"outpaint": 1}
    only_two = await store.report(GUILD, since, until, user_id=2)
    assert [r.user_id for r in only_two] == [2]
    assert kinds_summary(r.by_kind for r in rows.values()) == (
        "Generation 1 · Upscale 1 · Zoom out / pan 2"
    )


async def test_daily_totals_list_every_day_of_the_period(database: Database) -> None:
    """Successful jobs and their credits per UTC day, days without any listed as zero; a
    failure counts nowhere, another guild's jobs neither."""
    store, jobs = GuildStore(database), JobStore(database)
    made = [
        (NOW - timedelta(days=2), GUILD, "completed", 7),
        (NOW - timedelta(days=2, hours=11, minutes=59), GUILD, "delivered", 9),
        (NOW, GUILD, "completed", 16),
        (NOW, GUILD, "failed", 0),
        (NOW, GUILD + 1, "completed", 7),
    ]
    for when, guild, state, cost in made:
        job = await store.reserve(new_job(guild_id=guild), Limits(), when)
        assert isinstance(job, JobRecord)
        await jobs.transition(job.id, {"pending"}, "submitting")
        await jobs.transition(
            job.id, {"submitting"}, "failed" if state == "failed" else "completed", credit_cost=cost
        )
        if state == "delivered":
            await jobs.transition(job.id, {"completed"}, "delivered")
    since = datetime(2026, 11, 22, tzinfo=UTC)
    days = await store.daily(GUILD, since, datetime(2026, 11, 26, tzinfo=UTC))
    assert [(d.day.isoformat(), d.images, d.credits) for d in days] == [
        ("2026-11-22", 0, 0),
        ("2026-11-23", 2, 16),
        ("2026-11-24", 0, 0),
        ("2026-11-25", 1, 16),
    ]
