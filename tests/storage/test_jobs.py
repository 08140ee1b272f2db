"""The job ledger on SQLite and PostgreSQL: migrations, UTC, compare-and-set, leases."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event, select
from sqlalchemy.exc import IntegrityError, StatementError

from bot.jobs.request import SEED_MAX, Generate, Outpaint, Upscale
from bot.storage.db import Database, describe_url, normalize_url
from bot.storage.jobs import (
    STATES,
    TERMINAL,
    TRANSITIONS,
    HeldReason,
    JobRecord,
    JobStore,
    NewJob,
    can_move,
)
from bot.storage.migrations import current_revision, migrate
from bot.storage.models import Base, JobRow
from tests.factories import create
from tests.storage.conftest import DatabaseFactory

TOKEN = "interaction-token-secret-value"
HEAD = "0005"  # the newest migration
# Imports first, then waits for "go" so that both processes migrate at the same moment.
MIGRATE_SCRIPT = """
import asyncio, sys
from bot.storage.migrations import migrate
url, search_path = sys.argv[1], sys.argv[2]
kwargs = {"connect_args": {"server_settings": {"search_path": search_path}}} if search_path else {}
print("ready", flush=True)
sys.stdin.readline()
asyncio.run(migrate(url, **kwargs))
"""


def new_job(**overrides: Any) -> NewJob:
    job_id = str(uuid.uuid4())
    fields: dict[str, Any] = {
        "id": job_id,
        "idempotency_key": f"discord-{job_id}",
        "prompt": "a red fox",
        "request": Generate(resolution="1MP", seed=3),
        "user_id": 10,
        "channel_id": 20,
        "guild_id": 30,
        "application_id": 40,
        "interaction_token": TOKEN,
        "token_expires_at": datetime.now(UTC) + timedelta(minutes=15),
    }
    return NewJob(**(fields | overrides))


PATHS = {
    "submitting": ["submitting"],
    "queued": ["submitting", "queued"],
    "processing": ["submitting", "queued", "processing"],
    "completed": ["submitting", "queued", "processing", "completed"],
    "delivered": ["submitting", "queued", "processing", "completed", "delivered"],
    "failed": ["failed"],
    "cancelled": ["cancelled"],
}


async def move(store: JobStore, job_id: str, state: str, **fields: Any) -> JobRecord:
    """Walk a pending job along the usual path to `state`, setting `fields` on the last step."""
    current = "pending"
    record = None
    path = PATHS[state]
    for i, step in enumerate(path):
        record = await store.transition(
            job_id, {current}, step, **(fields if i == len(path) - 1 else {})
        )
        current = step
    assert record is not None
    return record


def test_url_normalisation_and_redaction() -> None:
    """Plain URLs get async drivers; passwords never show."""
    assert normalize_url("postgres://u:p@h/d") == "postgresql+asyncpg://u:p@h/d"
    assert normalize_url("postgresql://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert normalize_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert "secret" not in describe_url("postgresql://u:secret@h/d")


async def test_sqlite_file_uses_one_connection(tmp_path: Any) -> None:
    """Concurrent work on a SQLite file queues for one connection instead of racing for
    SQLite's single write lock on several (whose busy handler sleeps up to 100 ms a try)."""
    url = f"sqlite:///{tmp_path}/one.db"
    await migrate(url)
    db = Database(url)
    opened: list[object] = []
    event.listen(db.engine.sync_engine, "connect", lambda conn, _record: opened.append(conn))
    store = JobStore(db)
    try:
        await asyncio.gather(*(store.count_in(STATES) for _ in range(20)))
    finally:
        await db.dispose()
    assert len(opened) == 1


async def test_sqlite_file_is_in_wal_mode_after_migrating(tmp_path: Any) -> None:
    """Readers never wait for the writer: the file is switched to WAL once, at migration."""
    await migrate(f"sqlite:///{tmp_path}/wal.db")
    with contextlib.closing(sqlite3.connect(tmp_path / "wal.db")) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_migrations_are_idempotent(databases: DatabaseFactory) -> None:
    """An empty database migrates to head, and migrating again changes nothing."""
    assert await current_revision(databases.url, **databases.engine_kwargs) is None
    await databases.migrate()
    await databases.migrate()
    assert await current_revision(databases.url, **databases.engine_kwargs) == HEAD


async def test_concurrent_migrations_in_one_process(databases: DatabaseFactory) -> None:
    """Two engines of one process migrating an empty database at once both succeed."""
    await asyncio.gather(databases.migrate(), databases.migrate())
    assert await current_revision(databases.url, **databases.engine_kwargs) == HEAD


@pytest.mark.e2e  # slow: real processes, servers or timed waits
async def test_concurrent_migrations_in_two_processes(databases: DatabaseFactory) -> None:
    """Two bot processes starting at once on an empty database both migrate cleanly."""
    search_path = (
        databases.engine_kwargs.get("connect_args", {})
        .get("server_settings", {})
        .get("search_path")
    )
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MIGRATE_SCRIPT,
            databases.url,
            search_path or "",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"ready\n"
    outputs = await asyncio.gather(*(p.communicate(b"go\n") for p in procs))
    assert [p.returncode for p in procs] == [0, 0], [err.decode()[-2000:] for _, err in outputs]
    assert await current_revision(databases.url, **databases.engine_kwargs) == HEAD


async def test_migrations_match_models(database: Database) -> None:
    """The migrated schema is exactly what the models declare (autogenerate finds nothing)."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(compare) == []


async def test_create_and_read_back_with_utc(database: Database) -> None:
    """A job round-trips with timezone-aware UTC datetimes."""
    store = JobStore(database)
    created = await create(store, new_job())
    again = await store.get(created.id)
    assert again == created
    assert again is not None
    assert again.state == "pending"
    assert again.created_at.tzinfo is not None
    assert again.created_at.utcoffset() == timedelta(0)
    assert again.request == Generate(resolution="1MP", seed=3)


async def test_naive_datetimes_are_refused(database: Database) -> None:
    """Storing a naive datetime fails instead of guessing its zone."""
    store = JobStore(database)
    with pytest.raises((StatementError, ValueError)):
        await create(store, new_job(token_expires_at=datetime(2026, 1, 1)))  # noqa: DTZ001


async def test_idempotency_key_is_unique(database: Database) -> None:
    """A second job with the same idempotency key cannot exist."""
    store = JobStore(database)
    await create(store, new_job(idempotency_key="discord-1"))
    with pytest.raises(IntegrityError):
        await create(store, new_job(idempotency_key="discord-1"))


async def test_transition_is_compare_and_set(databases: DatabaseFactory) -> None:
    """Of two processes moving the same job out of `pending` at once, exactly one wins."""
    await databases.migrate()
    first, second = JobStore(databases.open()), JobStore(databases.open())
    job = await create(first, new_job())
    results = await asyncio.gather(
        first.transition(job.id, {"pending"}, "submitting", attempts=1),
        second.transition(job.id, {"pending"}, "submitting", attempts=2),
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert winners[0].state == "submitting"
    assert await first.transition(job.id, {"pending"}, "failed") is None


async def test_claims_never_overlap(databases: DatabaseFactory) -> None:
    """Many concurrent claimers never lease the same due job twice."""
    await databases.migrate()
    stores = [JobStore(databases.open()) for _ in range(4)]
    now = datetime.now(UTC)
    for _ in range(20):
        job = await create(stores[0], new_job())
        await move(stores[0], job.id, "queued", next_check_at=now)
    claimed: list[str] = []
    for _ in range(10):
        batches = await asyncio.gather(
            *(s.claim_due(f"owner-{i}", now, limit=8) for i, s in enumerate(stores))
        )
        claimed += [job.id for batch in batches for job in batch]
    assert len(claimed) == len(set(claimed))
    assert len(claimed) == 20


async def test_lease_expiry_and_release(database: Database) -> None:
    """A leased job is not claimable until its lease ends or is released."""
    store = JobStore(database)
    now = datetime.now(UTC)
    job = await create(store, new_job())
    await move(store, job.id, "processing", next_check_at=now)
    assert [j.id for j in await store.claim_due("a", now, lease_seconds=60)] == [job.id]
    assert await store.claim_due("b", now) == []
    assert [j.id for j in await store.claim_due("b", now + timedelta(seconds=61))] == [job.id]
    await store.release(job.id, "b")
    assert [j.id for j in await store.claim_due("c", now)] == [job.id]


async def test_unfinished_survive_a_restart(databases: DatabaseFactory) -> None:
    """After a new engine opens the same database, unfinished jobs are all found again."""
    await databases.migrate()
    store = JobStore(databases.open())
    a = await create(store, new_job())
    b = await create(store, new_job())
    await move(store, b.id, "delivered")
    restarted = JobStore(databases.open())
    assert [j.id for j in await restarted.unfinished()] == [a.id]


async def test_recent_durations_and_next_check(database: Database) -> None:
    """Durations come from completed jobs only; the earliest check is reported."""
    store = JobStore(database)
    start = datetime.now(UTC)
    for seconds in (10, 20):
        job = await create(store, new_job())
        await move(
            store,
            job.id,
            "delivered",
            submitted_at=start,
            completed_at=start + timedelta(seconds=seconds),
        )
    waiting = await create(store, new_job())
    await move(store, waiting.id, "queued", next_check_at=start)
    assert sorted(await store.recent_durations()) == [
        ("generate 1MP", 10.0),
        ("generate 1MP", 20.0),
    ]
    assert await store.next_check_at() == start


async def test_token_never_in_repr(database: Database) -> None:
    """The interaction token is a credential and never shows in a record's repr."""
    job = await create(JobStore(database), new_job())
    assert TOKEN not in repr(job)
    assert TOKEN not in str(job)
    assert TOKEN not in repr(new_job())


def test_transition_table_covers_every_state() -> None:
    """Every state has an entry; terminal states lead nowhere except a late result."""
    assert set(TRANSITIONS) == STATES
    assert all(targets <= STATES for targets in TRANSITIONS.values())
    assert TRANSITIONS["delivered"] == TRANSITIONS["failed"] == TRANSITIONS["cancelled"] == set()
    assert TRANSITIONS["timed_out"] == {"completed"}
    # A held result waits for the member's inbox: delivered from there, or failed once expired.
    assert TRANSITIONS["held"] == {"delivered", "failed"}
    assert [s for s in STATES if can_move(s, "held") and s != "held"] == ["completed"]
    assert all(
        can_move(state, ending)
        for state in STATES - TERMINAL
        for ending in TERMINAL - {"delivered", "held"}
    )
    assert can_move("processing", "processing")


async def test_illegal_transition_is_refused(database: Database) -> None:
    """Asking for a move the state machine forbids is a programming error, not a lost race."""
    store = JobStore(database)
    job = await create(store, new_job())
    with pytest.raises(ValueError, match="pending"):
        await store.transition(job.id, {"pending"}, "delivered")
    with pytest.raises(ValueError, match="unknown state"):
        await store.transition(job.id, {"pending"}, "exploded")
    again = await store.get(job.id)
    assert again is not None
    assert again.state == "pending"


async def test_update_fields_and_the_largest_seed(database: Database) -> None:
    """Unguarded updates change fields and bump updated_at; the largest seed round-trips."""
    store = JobStore(database)
    job = await create(store, new_job(request=Generate(resolution="1MP", seed=SEED_MAX)))
    again = await store.get(job.id)
    assert again is not None
    assert again.request.seed == SEED_MAX
    updated = await store.update(job.id, progress=40, result_urls=["https://cdn.example/a.png"])
    assert updated is not None
    assert (updated.progress, updated.result_urls) == (40, ["https://cdn.example/a.png"])
    assert updated.updated_at >= job.updated_at
    assert await store.update("no-such-job", progress=1) is None
    with pytest.raises(ValueError, match="transition"):
        await store.update(job.id, state="delivered")
    with pytest.raises((StatementError, ValueError)):
        await store.update(job.id, next_check_at=datetime(2026, 1, 1))  # noqa: DTZ001


async def test_lookups_by_apiframe_id_and_key(database: Database) -> None:
    """A job is found again by Apiframe's id (webhooks)."""
    store = JobStore(database)
    job = await create(store, new_job(idempotency_key="discord-99"))
    await move(store, job.id, "queued", apiframe_job_id="af-1")
    by_remote = await store.get_by_apiframe_id("af-1")
    assert by_remote is not None
    assert by_remote.id == job.id
    assert await store.get_by_apiframe_id("af-2") is None


async def test_release_only_by_the_owner(database: Database) -> None:
    """Another process cannot release a lease it does not hold."""
    store = JobStore(database)
    now = datetime.now(UTC)
    job = await create(store, new_job())
    await move(store, job.id, "queued", next_check_at=now)
    assert len(await store.claim_due("a", now)) == 1
    await store.release(job.id, "b")
    assert await store.claim_due("b", now) == []
    await store.release(job.id, "a")
    held = await store.get(job.id)
    assert held is not None
    assert (held.lease_owner, held.lease_until) == (None, None)


async def test_recent_durations_newest_first(database: Database) -> None:
    """Durations are listed newest completion first, with each job's timing group, and cut
    at the limit."""
    store = JobStore(database)
    start = datetime.now(UTC)
    requests = {
        30: Generate(resolution="4MP", seed=1),
        10: Upscale(image="https://cdn.example/a.png", mode="creative", factor=4),
        20: Generate(resolution="1MP", seed=2),
        5: Outpaint(image="https://cdn.example/b.png", preset="Zoom out 2x"),
    }
    for seconds, request in requests.items():
        job = await create(store, new_job(request=request))
        await move(
            store,
            job.id,
            "failed" if seconds == 20 else "delivered",
            submitted_at=start,
            completed_at=start + timedelta(seconds=seconds),
        )
    assert await store.recent_durations() == [
        ("generate 4MP", 30.0),
        ("upscale creative 4", 10.0),
        ("outpaint", 5.0),
    ]
    assert await store.recent_durations(limit=1) == [("generate 4MP", 30.0)]


async def test_counts(database: Database) -> None:
    """How many jobs are in some states (the health check's jobs in flight)."""
    store = JobStore(database)
    a = await create(store, new_job(user_id=1, guild_id=7))
    await create(store, new_job(user_id=1, guild_id=8))
    await create(store, new_job(user_id=2, guild_id=7))
    await store.transition(a.id, {"pending"}, "cancelled")
    assert await store.count_in({"pending"}) == 2
    assert await store.count_in({"pending", "cancelled"}) == 3


async def test_a_held_result_is_claimed_by_one_inbox_at_a_time(database: Database) -> None:
    store = JobStore(database)
    job = await create(store, new_job())
    await move(store, job.id, "completed")
    await store.transition(job.id, {"completed"}, "held")
    first = await store.claim_held(job.id, "inbox-1", 60)
    assert first is not None
    assert first.lease_owner == "inbox-1"
    assert await store.claim_held(job.id, "inbox-2", 60) is None
    await store.release(job.id, "inbox-1")
    assert await store.claim_held(job.id, "inbox-2", 60) is not None


async def test_jobs_of_the_previous_schema_are_carried_over(databases: DatabaseFactory) -> None:
    """Rows written before jobs had a typed request come back typed after migrating: their
    options become a `generate` request, a held private result keeps why it is held."""
    from sqlalchemy import text

    await databases.migrate("0002")
    db = databases.open()
    columns = (
        "id, idempotency_key, state, channel_id, user_id, application_id, ephemeral, prompt,"
        " params, source, result_urls, attempts, created_at, updated_at, delivery_note"
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    async with db.session() as session:
        for job_id, state, params, note in (
            (
                "a",
                "delivered",
                '{"resolution": "2MP", "seed": 9, "reference_url": "https://r/x"}',
                None,
            ),
            ("b", "held", "{}", "a private result finished after the interaction expired"),
            ("c", "held", '{"strength": 0.5}', "Discord answered 403"),
        ):
            await session.execute(
                text(
                    f"INSERT INTO jobs ({columns}) VALUES (:id, :key, :state, 1, 2, 3, true,"  # noqa: S608
                    " 'p', :params, 'command', '[]', 0, :now, :now, :note)"
                ),
                {"id": job_id, "key": job_id, "state": state, "params": params, "now": now,
                 "note": note},
            )  # fmt: skip
    await db.dispose()
    await databases.migrate()
    store = JobStore(databases.open())
    a, b, c = [await store.get(job_id) for job_id in "abc"]
    assert a is not None
    assert b is not None
    assert c is not None
    assert a.request == Generate(resolution="2MP", seed=9, references=("https://r/x",))
    assert a.private
    assert b.request.resolution == "1MP"
    assert (b.held_reason, c.held_reason) == (HeldReason.LATE, HeldReason.REFUSED)
    assert c.request.strength == 0.5


async def test_leases_work_for_the_longest_host_names(databases: DatabaseFactory) -> None:
    """A Kubernetes pod name runs to 63 characters: the lease owner built from it (and the
    inbox's owner built on that) still fits the column, on PostgreSQL too."""
    from bot.services import process_owner

    await databases.migrate()
    store = JobStore(databases.open())
    owner = process_owner("flux-bot-7f9c8d6b5a-" + "x" * 43)
    job = await create(store, new_job())
    await move(store, job.id, "queued", next_check_at=datetime.now(UTC))
    [claimed] = await store.claim_due(owner, datetime.now(UTC) + timedelta(seconds=1))
    assert claimed.lease_owner == owner
    await store.release(job.id, owner)
    await store.transition(job.id, {"queued"}, "completed")
    await store.transition(job.id, {"completed"}, "held")
    inbox = f"{owner}:inbox:{2**63 - 1}"
    held = await store.claim_held(job.id, inbox, 60)
    assert held is not None
    assert held.lease_owner == inbox


async def test_kind_is_stored_in_its_own_column(database: Database) -> None:
    """A job's kind is written beside its request, so usage can be counted by kind."""
    store = JobStore(database)
    created = await create(store, new_job())
    async with database.session() as session:
        kind = await session.scalar(select(JobRow.kind).where(JobRow.id == created.id))
    assert kind == "generate" == created.kind
