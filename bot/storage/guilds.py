"""Per-guild policy, usage and reservations.

Every reservation and policy change first bumps the guild's row: on PostgreSQL that row lock
serialises them per guild across processes; on SQLite the write takes the database's write lock
before anything is read. Counting and inserting in that one transaction means two commands at
the same instant can never both take the last unit of a quota or budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, func, insert, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.moderation.gate import Limits, MemberUsage, Refusal, check_usage, day_start, month_start
from bot.moderation.policy import GuildPolicy
from bot.storage.db import Database
from bot.storage.jobs import UNFINISHED, JobRecord, NewJob, as_utc, pending_row, utcnow
from bot.storage.models import GuildConfigRow, JobRow

DM = 0  # the guild key of direct messages
WRITE_PROBE = -1  # the guild key of the health check's rolled-back write
RELEASED = ("failed", "cancelled", "timed_out")  # nothing of these counts against a member
FAILED = ("failed", "timed_out")  # "cancelled" is a member's own choice, not a failure
COUNTED = tuple(UNFINISHED | {"delivered", "held"})  # reserved or used
SUCCEEDED = ("completed", "delivered", "held")


class MemberTotals(BaseModel):
    """One member's use of a guild over a period."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    generations: int  # every successful job, whatever its kind
    credits: int
    failures: int
    by_kind: dict[str, int] = Field(default_factory=dict)  # successful jobs per kind


class DayTotals(BaseModel):
    """A guild's successful jobs and the credits they cost on one UTC day."""

    model_config = ConfigDict(frozen=True)

    day: date
    images: int
    credits: int


class PolicyRefused(ValueError):
    """An edit that cannot be made to the policy as it stands; the message says why."""


class PolicyChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    before: GuildPolicy
    after: GuildPolicy


def _guild(guild_id: int | None) -> Any:
    return JobRow.guild_id == guild_id if guild_id else JobRow.guild_id.is_(None)


def _spent() -> Any:
    """Credits a job weighs on the budget: its real cost once known, else the reservation;
    a failed job only what Apiframe actually charged (normally nothing)."""
    return case(
        (JobRow.state.in_(RELEASED), func.coalesce(JobRow.credit_cost, 0)),
        else_=func.coalesce(JobRow.credit_cost, JobRow.reserved_credits, 0),
    )


class GuildStore:
    """Reads and writes guild policies and reserves jobs against their limits."""

    def __init__(self, db: Database, *, cache_seconds: float = 5.0) -> None:
        self.db = db
        # Every command and every delivery reads its guild's policy: keep each guild's stored
        # changes for a few seconds. This process sees its own changes at once; another
        # process sharing the database sees them within `cache_seconds`.
        self.cache_seconds = cache_seconds
        self._overrides: dict[int, tuple[float, dict[str, Any]]] = {}

    # --- locking ----------------------------------------------------------------------

    async def _lock(self, session: AsyncSession, guild_id: int | None) -> GuildConfigRow:
        key = guild_id or DM
        bump = (
            update(GuildConfigRow)
            .where(GuildConfigRow.guild_id == key)
            .values(lock_seq=GuildConfigRow.lock_seq + 1)
            .execution_options(synchronize_session=False)
        )
        result = await session.execute(bump)
        if result.rowcount == 0:  # type: ignore[attr-defined]
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            await session.execute(
                insert(GuildConfigRow)
                .values(guild_id=key, policy={}, lock_seq=0, updated_at=utcnow())
                .on_conflict_do_nothing(index_elements=["guild_id"])
            )
            await session.execute(bump)
        row = await session.get(GuildConfigRow, key, populate_existing=True)
        if row is None:  # the row was just written in this transaction
            raise RuntimeError(f"guild {key}: config row missing after insert")
        return row

    async def write_problem(self) -> str | None:
        """Why the database cannot take a write now (read-only, full, unreachable), or None:
        a row is written and rolled back, so nothing stays."""
        try:
            async with self.db.sessions() as session:
                probe = {"policy": {}, "lock_seq": 0, "updated_at": utcnow()}
                await session.execute(insert(GuildConfigRow).values(guild_id=WRITE_PROBE, **probe))
                await session.rollback()
        except Exception as exc:  # any driver error: say which kind, never the URL
            return f"cannot write to the database ({type(exc).__name__})"
        return None

    # --- policy -----------------------------------------------------------------------

    async def policy(self, guild_id: int | None, defaults: GuildPolicy) -> GuildPolicy:
        """The guild's policy: its stored changes over `defaults` (which come from settings)."""
        key = guild_id or DM
        cached = self._overrides.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            return _apply(defaults, cached[1])
        async with self.db.session() as session:
            row = await session.get(GuildConfigRow, key)
            overrides = dict(row.policy) if row else {}
        self._overrides[key] = (time.monotonic(), overrides)
        return _apply(defaults, overrides)

    async def change(self, guild_id: int, defaults: GuildPolicy, **changes: Any) -> PolicyChange:
        """Set some policy fields, atomically with other changes and reservations."""
        return await self.edit(guild_id, defaults, lambda _: changes)

    async def edit(
        self,
        guild_id: int,
        defaults: GuildPolicy,
        edit: Callable[[GuildPolicy], dict[str, Any]],
    ) -> PolicyChange:
        """Apply `edit(current policy) -> field changes` under the guild's lock, so two edits
        of one list (on this process or another) never lose each other's entries. `edit` may
        raise `PolicyRefused` to change nothing."""
        async with self.db.session() as session:
            row = await self._lock(session, guild_id)
            before = _apply(defaults, row.policy)
            changes = edit(before)
            after = before.model_copy(update=changes)
            after = GuildPolicy.model_validate(after.model_dump())  # validate the new values
            stored = after.model_dump(mode="json")
            overrides = {**row.policy, **{name: stored[name] for name in changes}}
            row.policy = overrides
            row.updated_at = utcnow()
        self._overrides[guild_id] = (time.monotonic(), overrides)
        return PolicyChange(before=before, after=after)

    async def reset(self, guild_id: int, defaults: GuildPolicy) -> PolicyChange:
        """Forget every change: the guild follows the settings' defaults again."""
        async with self.db.session() as session:
            row = await self._lock(session, guild_id)
            before = _apply(defaults, row.policy)
            row.policy = {}
            row.updated_at = utcnow()
        self._overrides[guild_id] = (time.monotonic(), {})
        return PolicyChange(before=before, after=defaults)

    # --- reservations -----------------------------------------------------------------

    async def reserve(self, new: NewJob, limits: Limits, now: datetime) -> JobRecord | Refusal:
        """Write the job if the member's cooldown, in-flight, quota and the guild's budget
        allow it, holding the guild's lock so concurrent reservations see each other."""
        async with self.db.session() as session:
            await self._lock(session, new.guild_id)
            usage = await self._usage(session, new.guild_id, new.user_id, now)
            refusal = check_usage(limits, usage, now)
            if refusal is not None:
                return refusal
            row = pending_row(new.model_copy(update={"reserved_credits": limits.estimate}), now)
            session.add(row)
        return JobRecord.model_validate(row)

    async def refusal_for(
        self, guild_id: int | None, user_id: int, limits: Limits, now: datetime
    ) -> Refusal | None:
        """What `reserve` would refuse now, read without the guild's lock: a cheap early
        answer before costly work (a reference image's decode); `reserve` still decides."""
        return check_usage(limits, await self.usage(guild_id, user_id, now), now)

    async def usage(self, guild_id: int | None, user_id: int, now: datetime) -> MemberUsage:
        async with self.db.session() as session:
            return await self._usage(session, guild_id, user_id, now)

    async def _usage(
        self, session: AsyncSession, guild_id: int | None, user_id: int, now: datetime
    ) -> MemberUsage:
        day, month = day_start(now), month_start(now)
        mine = JobRow.user_id == user_id
        counted = JobRow.state.in_(COUNTED)

        def _count(*conditions: Any) -> Any:
            return func.coalesce(func.sum(case((*conditions, 1), else_=0)), 0)

        # Quotas and the budget count this month's jobs; the cooldown and the in-flight
        # limit look at the member's jobs whenever they started, or a job begun just before
        # midnight on the last of the month would escape both.
        query = select(
            _count(mine & counted & (JobRow.created_at >= day)),
            _count(mine & counted),
            func.coalesce(func.sum(_spent()), 0),
        ).where(_guild(guild_id), JobRow.created_at >= month)
        today, monthly, credits = (await session.execute(query)).one()
        member = select(
            _count(JobRow.state.in_(list(UNFINISHED))),
            func.max(case((counted, JobRow.created_at))),
        ).where(_guild(guild_id), mine)
        in_flight, last = (await session.execute(member)).one()
        return MemberUsage(
            today=int(today),
            this_month=int(monthly),
            in_flight=int(in_flight),
            last_started_at=as_utc(last) if last is not None else None,
            guild_credits=int(credits),
        )

    async def guild_credits(self, guild_id: int | None, now: datetime) -> int:
        """Credits spent and reserved this month."""
        async with self.db.session() as session:
            total = await session.scalar(
                select(func.coalesce(func.sum(_spent()), 0)).where(
                    _guild(guild_id), JobRow.created_at >= month_start(now)
                )
            )
            return int(total or 0)

    async def mark_budget(self, guild_id: int, month: str, kind: str) -> bool:
        """Record that the budget `kind` ("warned" or "stopped") was announced this month;
        True only for the first caller, so each announcement is made once."""
        column = {"warned": GuildConfigRow.budget_warned, "stopped": GuildConfigRow.budget_stopped}
        field = column[kind]
        async with self.db.session() as session:
            await self._lock(session, guild_id)
            result = await session.execute(
                update(GuildConfigRow)
                .where(
                    GuildConfigRow.guild_id == guild_id,
                    (field.is_(None)) | (field != month),
                )
                .values({field.key: month})
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # --- reports ----------------------------------------------------------------------

    async def report(
        self, guild_id: int | None, since: datetime, until: datetime, user_id: int | None = None
    ) -> list[MemberTotals]:
        """Per-member totals for jobs created in [since, until), busiest first (only
        `user_id`'s when given)."""
        succeeded = JobRow.state.in_(SUCCEEDED)
        query = (
            select(
                JobRow.user_id,
                JobRow.kind,
                func.sum(case((succeeded, 1), else_=0)),
                func.sum(func.coalesce(JobRow.credit_cost, 0)),  # what Apiframe charged
                func.sum(case((JobRow.state.in_(FAILED), 1), else_=0)),
            )
            .where(_guild(guild_id), JobRow.created_at >= since, JobRow.created_at < until)
            .where(JobRow.user_id == user_id if user_id is not None else true())
            .group_by(JobRow.user_id, JobRow.kind)
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        members: dict[int, dict[str, Any]] = {}
        for user_id, kind, good, spent, failed in rows:
            member = members.setdefault(
                user_id, {"generations": 0, "credits": 0, "failures": 0, "by_kind": {}}
            )
            member["generations"] += int(good or 0)
            member["credits"] += int(spent or 0)
            member["failures"] += int(failed or 0)
            if good:
                member["by_kind"][kind] = int(good)
        totals = [MemberTotals(user_id=u, **t) for u, t in members.items()]
        return sorted(totals, key=lambda t: (-t.generations, -t.credits, t.user_id))

    async def daily(
        self, guild_id: int | None, since: datetime, until: datetime
    ) -> list[DayTotals]:
        """Successful jobs and credits per UTC day in [since, until), every day listed."""
        created = JobRow.created_at
        # Both give the UTC calendar day: SQLite stores UTC text, PostgreSQL a timestamptz.
        day = func.date(created) if self.db.is_sqlite else func.date(func.timezone("UTC", created))
        query = (
            select(day, func.count(), func.sum(func.coalesce(JobRow.credit_cost, 0)))
            .where(_guild(guild_id), created >= since, created < until)
            .where(JobRow.state.in_(SUCCEEDED))
            .group_by(day)
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        found = {date.fromisoformat(str(d)[:10]): (int(n), int(c or 0)) for d, n, c in rows}
        last = (as_utc(until) - timedelta(microseconds=1)).date()  # `until` is excluded
        days, current = [], as_utc(since).date()
        while current <= last:
            images, credits = found.get(current, (0, 0))
            days.append(DayTotals(day=current, images=images, credits=credits))
            current += timedelta(days=1)
        return days


# Policy keys stored under an earlier name.
_RENAMED = {"max_in_flight": "jobs_per_member"}


def _apply(defaults: GuildPolicy, overrides: dict[str, Any]) -> GuildPolicy:
    current = {_RENAMED.get(k, k): v for k, v in overrides.items()}
    known = {k: v for k, v in current.items() if k in GuildPolicy.model_fields}
    return GuildPolicy.model_validate({**defaults.model_dump(), **known})
