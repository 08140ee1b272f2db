"""The job ledger: every state change is a compare-and-set, safe across processes."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import case, func, or_, select, update

from bot.jobs.request import JobRequest, load_request, timing_group
from bot.storage.db import Database
from bot.storage.models import JobRow


class JobState(StrEnum):
    """Where a job is; the table below says where it may go next."""

    PENDING = "pending"  # written, waiting in our local queue
    SUBMITTING = "submitting"  # being sent to Apiframe under its idempotency key
    QUEUED = "queued"  # accepted by Apiframe
    PROCESSING = "processing"
    COMPLETED = "completed"  # result known at Apiframe, not yet posted
    DELIVERED = "delivered"
    HELD = "held"  # paid and finished but not postable: see /flux-inbox and `HeldReason`
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class HeldReason(StrEnum):
    """Why a finished job waits in /flux-inbox instead of where it was asked for."""

    LATE = "late"  # a private result finished after the interaction expired
    REFUSED = "refused"  # Discord would not take it where it was asked for


S = JobState
STATES = frozenset(JobState)
TERMINAL = frozenset({S.DELIVERED, S.HELD, S.FAILED, S.CANCELLED, S.TIMED_OUT})
UNFINISHED = STATES - TERMINAL
_ENDINGS = frozenset({S.FAILED, S.CANCELLED, S.TIMED_OUT})
# Where each state may go next. Staying in a state is always allowed (a guarded field update).
# `timed_out` is terminal for the member, but Apiframe may still finish (and bill) the job late.
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    S.PENDING: frozenset({S.SUBMITTING}) | _ENDINGS,
    S.SUBMITTING: frozenset({S.PENDING, S.QUEUED, S.PROCESSING, S.COMPLETED}) | _ENDINGS,
    S.QUEUED: frozenset({S.PROCESSING, S.COMPLETED}) | _ENDINGS,
    S.PROCESSING: frozenset({S.COMPLETED}) | _ENDINGS,
    S.COMPLETED: frozenset({S.DELIVERED, S.HELD}) | _ENDINGS,
    S.TIMED_OUT: frozenset({S.COMPLETED}),
    S.HELD: frozenset({S.DELIVERED, S.FAILED}),
    S.DELIVERED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}


def can_move(from_state: str, to_state: str) -> bool:
    """Whether a job may go from `from_state` to `to_state`."""
    if from_state == to_state:
        return True
    return from_state in STATES and to_state in TRANSITIONS[JobState(from_state)]


# States the driver looks at when `next_check_at` comes: running jobs, and timed-out ones that
# may still finish (and be paid for) late.
CHECKED = (UNFINISHED - {S.PENDING}) | {S.TIMED_OUT}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | str) -> datetime:
    """An aggregate's datetime as aware UTC: on SQLite aggregates bypass the column type and
    come back naive (or, through a CASE, as text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class NewJob(BaseModel):
    """What is known when a job is asked for."""

    id: str
    idempotency_key: str
    prompt: str
    request: JobRequest
    source: str = "command"
    parent_job_id: str | None = None
    user_id: int
    channel_id: int
    guild_id: int | None = None
    application_id: int = 0
    interaction_id: int | None = None
    interaction_token: str | None = Field(default=None, repr=False)
    token_expires_at: datetime | None = None
    response_message_id: int | None = None
    private: bool = False
    locale: str | None = None
    upload_limit: int | None = None
    reserved_credits: int | None = None


class JobRecord(BaseModel):
    """A stored job as plain data. The interaction token never shows in its repr."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: str
    idempotency_key: str
    apiframe_job_id: str | None
    state: JobState
    guild_id: int | None
    channel_id: int
    user_id: int
    application_id: int
    interaction_id: int | None
    interaction_token: str | None = Field(repr=False)
    token_expires_at: datetime | None
    response_message_id: int | None
    private: bool
    locale: str | None
    upload_limit: int | None
    prompt: str
    request: JobRequest
    kind: str = "generate"
    source: str
    parent_job_id: str | None
    progress: int | None
    result_urls: list[str]
    error_kind: str | None
    error_message: str | None
    credit_cost: int | None
    reserved_credits: int | None = None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    delivered_at: datetime | None
    next_check_at: datetime | None
    last_progress_edit_at: datetime | None
    attempts: int
    delivery_channel_message_id: int | None
    delivery_note: str | None
    held_reason: HeldReason | None = None
    scrubbed: str | None = None  # see JobRow.scrubbed
    lease_owner: str | None
    lease_until: datetime | None

    @field_validator("request", mode="before")
    @classmethod
    def _stored(cls, value: object) -> object:
        return load_request(value)


def pending_row(new: NewJob, now: datetime) -> JobRow:
    """The row of a job just asked for."""
    return JobRow(
        **new.model_dump(exclude={"request"}),
        request=new.request.model_dump(mode="json"),
        kind=new.request.kind,
        state=JobState.PENDING,
        created_at=now,
        updated_at=now,
        next_check_at=None,
        attempts=0,
        result_urls=[],
    )


class JobEvents(Protocol):
    """Told of what happens to jobs (the metrics listen): a job written, moved by a
    compare-and-set out of one of `from_states`, or a failed step scheduled again."""

    def job_created(self, job: JobRecord) -> None: ...

    def job_moved(self, job: JobRecord, from_states: Collection[str]) -> None: ...

    def job_retried(self, job: JobRecord) -> None: ...


class JobStore:
    """Reads and writes jobs; returns `JobRecord`s, never ORM objects."""

    def __init__(self, db: Database, events: JobEvents | None = None) -> None:
        self.db = db
        self.events = events

    async def get(self, job_id: str) -> JobRecord | None:
        async with self.db.session() as session:
            row = await session.get(JobRow, job_id)
            return JobRecord.model_validate(row) if row else None

    async def _one(self, *where: Any) -> JobRecord | None:
        async with self.db.session() as session:
            row = (await session.execute(select(JobRow).where(*where))).scalar_one_or_none()
            return JobRecord.model_validate(row) if row else None

    async def get_by_apiframe_id(self, apiframe_job_id: str) -> JobRecord | None:
        return await self._one(JobRow.apiframe_job_id == apiframe_job_id)

    async def transition(
        self, job_id: str, from_states: Collection[str], to_state: str, **fields: Any
    ) -> JobRecord | None:
        """Move a job to `to_state` only if it is in one of `from_states`; None if it was not
        (another process, or an earlier event, got there first)."""
        if to_state not in STATES:
            raise ValueError(f"unknown state {to_state!r}")
        wrong = sorted(f for f in from_states if not can_move(f, to_state))
        if wrong:
            raise ValueError(f"a job cannot move from {', '.join(wrong)} to {to_state}")
        moved = await self._update(
            job_id, [JobRow.state.in_(list(from_states))], state=to_state, **fields
        )
        if moved is not None and self.events is not None:
            self.events.job_moved(moved, from_states)
        return moved

    async def claim_held(self, job_id: str, owner: str, seconds: float) -> JobRecord | None:
        """Take a held result for one /flux-inbox for a while, so two at once (two clicks,
        two processes) never post it twice; None if someone else has it now."""
        now = utcnow()
        guards = [
            JobRow.state == "held",
            or_(JobRow.lease_until.is_(None), JobRow.lease_until < now),
        ]
        until = now + timedelta(seconds=seconds)
        return await self._update(job_id, guards, lease_owner=owner, lease_until=until)

    async def retry_later(
        self, job_id: str, owner: str, state: str, *, attempts: int, at: datetime
    ) -> JobRecord | None:
        """Schedule another try of a failed step, only if the job is still in `state` and
        not leased to another process (whose step must not lose its lease)."""
        guards = [
            JobRow.state == state,
            or_(JobRow.lease_owner.is_(None), JobRow.lease_owner == owner),
        ]
        retried = await self._update(
            job_id, guards, attempts=attempts, next_check_at=at, lease_owner=None, lease_until=None
        )
        if retried is not None and self.events is not None:
            self.events.job_retried(retried)
        return retried

    async def update(self, job_id: str, **fields: Any) -> JobRecord | None:
        """Change fields without a state guard (progress, schedule, lease)."""
        if "state" in fields:
            raise ValueError("change a job's state with transition(), which checks the old one")
        return await self._update(job_id, [], **fields)

    async def _update(self, job_id: str, guards: list[Any], **fields: Any) -> JobRecord | None:
        fields["updated_at"] = utcnow()
        async with self.db.session() as session:
            result = await session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, *guards)
                .values(**fields)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = await session.get(JobRow, job_id, populate_existing=True)
            return JobRecord.model_validate(row)

    async def by_states(self, states: Iterable[str]) -> list[JobRecord]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(JobRow).where(JobRow.state.in_(list(states))).order_by(JobRow.created_at)
            )
            return [JobRecord.model_validate(r) for r in rows]

    async def unfinished(self) -> list[JobRecord]:
        return await self.by_states(UNFINISHED)

    async def claim_due(
        self,
        owner: str,
        now: datetime,
        *,
        limit: int = 64,
        lease_seconds: float = 120.0,
        exclude: Collection[str] = (),
        states: Collection[str] = CHECKED,
        by: datetime | None = None,
    ) -> list[JobRecord]:
        """Lease unfinished jobs (in `states`) whose check is due (by `by`, default now) and
        that nobody else holds."""
        due = (
            JobRow.state.in_(list(CHECKED & set(states))),
            JobRow.next_check_at.is_not(None),
            JobRow.next_check_at <= (by or now),
            or_(JobRow.lease_until.is_(None), JobRow.lease_until < now),
        )
        until = now + timedelta(seconds=lease_seconds)
        claimed: list[JobRecord] = []
        async with self.db.session() as session:
            query = select(JobRow.id).where(*due).order_by(JobRow.next_check_at).limit(limit)
            if exclude:
                query = query.where(JobRow.id.not_in(list(exclude)))
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            ids = list(await session.scalars(query))
            for job_id in ids:
                # Guarded per row: on SQLite, a concurrent claimer loses the race here.
                result = await session.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, *due)
                    .values(lease_owner=owner, lease_until=until)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    row = await session.get(JobRow, job_id, populate_existing=True)
                    claimed.append(JobRecord.model_validate(row))
        return claimed

    async def release(self, job_id: str, owner: str) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    async def next_check_at(self) -> datetime | None:
        """The earliest scheduled check of any unfinished job."""
        # A leased job is worked on already: it is due again only when its lease lapses.
        due = case(
            (JobRow.lease_until > JobRow.next_check_at, JobRow.lease_until),
            else_=JobRow.next_check_at,
        )
        async with self.db.session() as session:
            moment = await session.scalar(
                select(func.min(due)).where(
                    JobRow.state.in_(list(CHECKED)), JobRow.next_check_at.is_not(None)
                )
            )
            return as_utc(moment) if moment is not None else None

    async def recent_durations(self, limit: int = 200) -> list[tuple[str, float]]:
        """The newest completed jobs' timing groups (`timing_group`) and seconds from
        submission to completion."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(JobRow.kind, JobRow.request, JobRow.submitted_at, JobRow.completed_at)
                .where(
                    JobRow.state.in_(["completed", "delivered", "held"]),
                    JobRow.submitted_at.is_not(None),
                    JobRow.completed_at.is_not(None),
                )
                .order_by(JobRow.completed_at.desc())
                .limit(limit)
            )
            return [
                (timing_group(kind, request or {}), (done - sent).total_seconds())
                for kind, request, sent, done in rows
                if sent and done
            ]

    async def last_submitted(self, user_ids: Collection[int]) -> dict[int, datetime]:
        """When each of these members last had a job sent to Apiframe."""
        if not user_ids:
            return {}
        async with self.db.session() as session:
            rows = await session.execute(
                select(JobRow.user_id, func.max(JobRow.submitted_at))
                .where(JobRow.user_id.in_(list(user_ids)), JobRow.submitted_at.is_not(None))
                .group_by(JobRow.user_id)
            )
            return {user: as_utc(when) for user, when in rows if when is not None}

    async def held_for(self, user_id: int) -> list[JobRecord]:
        """A member's finished jobs that could not be posted, oldest first."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(JobRow)
                .where(JobRow.user_id == user_id, JobRow.state == "held", JobRow.scrubbed.is_(None))
                .order_by(JobRow.completed_at)
            )
            return [JobRecord.model_validate(r) for r in rows]

    async def count_in(self, states: Collection[str]) -> int:
        """How many jobs are in any of these states."""
        async with self.db.session() as session:
            count = await session.scalar(
                select(func.count()).select_from(JobRow).where(JobRow.state.in_(list(states)))
            )
            return int(count or 0)

    async def unfinished_counts(self) -> dict[tuple[str, str], int]:
        """How many unfinished jobs there are, by (kind, state)."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(JobRow.kind, JobRow.state, func.count())
                .where(JobRow.state.in_(list(UNFINISHED)))
                .group_by(JobRow.kind, JobRow.state)
            )
            return {(str(kind), str(state)): int(n) for kind, state, n in rows}
