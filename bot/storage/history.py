"""A member's history of images, and how it is removed: at their request (/flux-forget-me) and
after HISTORY_DAYS.

Removing a job's history scrubs what is personal in it (the prompt, the reference and result
URLs, the interaction token, the message it came from) and keeps the row: it holds the numbers
the quotas, the budget and the usage reports add up. A forgotten member's rows keep their user
id while it still counts towards a quota or a cooldown (this month, and at least one day), so
forgetting never resets a limit; after that the id becomes FORGOTTEN_USER, an anonymous number
in the usage reports.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.jobs.request import load_request, scrubbed
from bot.moderation.gate import month_start
from bot.storage.db import Database
from bot.storage.jobs import TERMINAL
from bot.storage.models import JobRow, MemberDefaultsRow, MemberPresetRow

FORGOTTEN_USER = 0  # the user id of jobs whose member asked to be forgotten
SHOWN_STATES = ("delivered", "held")  # images that were made
PURGE_BATCH = 200  # jobs per transaction: each batch holds SQLite's writer for ~50 ms
COOLDOWN_MAX = timedelta(days=1)  # the longest cooldown /flux-admin allows


class HistoryEntry(BaseModel):
    """One image in a member's history."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    prompt: str
    kind: str
    seed: int
    private: bool
    created_at: datetime
    completed_at: datetime | None
    result_url: str | None
    channel_id: int
    message_id: int | None  # where it was posted for everyone (None: private)


class HistoryPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    entries: list[HistoryEntry]
    page: int  # from 0, within the pages there are
    pages: int
    total: int


class Forgotten(BaseModel):
    """What /flux-forget-me removed, or, with `busy`, why it removed nothing yet."""

    model_config = ConfigDict(frozen=True)

    jobs: int = 0
    defaults: int = 0
    presets: int = 0
    busy: int = 0  # images still on the way: nothing is removed while they are


def _settled() -> Any:
    """Jobs nothing will touch again: ended, and not a timed-out one still being checked
    (Apiframe may finish it late, and it would be posted)."""
    still_checked = (JobRow.state == "timed_out") & JobRow.next_check_at.is_not(None)
    return JobRow.state.in_(list(TERMINAL)) & ~still_checked


def quota_window_start(now: datetime) -> datetime:
    """Jobs created since then may still count towards a member's quota or cooldown."""
    return min(month_start(now), now - COOLDOWN_MAX)


def _message_id(row: Any) -> int | None:
    if row.private:
        return None
    return row.delivery_channel_message_id or row.response_message_id


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def _scrub(
    session: AsyncSession, where: list[Any], mark: str, limit: int | None = None
) -> int:
    """Scrub the jobs matching `where` (at most `limit`); how many."""
    query = select(JobRow.id, JobRow.request).where(*where).limit(limit)
    rows = (await session.execute(query)).all()
    if not rows:
        return 0
    requests = []
    for job_id, request in rows:
        clean = scrubbed(request)
        if clean != request:  # most generations point at nothing of the member's
            requests.append({"id": job_id, "request": clean})
    # One statement per changed request (each its own JSON), one for the rest.
    if requests:
        await session.execute(update(JobRow), requests)
    await session.execute(
        update(JobRow)
        .where(JobRow.id.in_([job_id for job_id, _ in rows]))
        .values(
            prompt="",
            result_urls=[],
            interaction_token=None,
            error_message=None,
            delivery_note=None,
            scrubbed=mark,
        )
        .execution_options(synchronize_session=False)
    )
    return len(rows)


class HistoryStore:
    """Reads members' histories and removes them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self,
        guild_id: int,
        user_id: int,
        *,
        page: int = 0,
        size: int = 5,
        kind: str | None = None,
        word: str | None = None,
    ) -> HistoryPage:
        """The member's images made in this guild, newest first, `size` per page; only
        `kind`, or only prompts with `word` (any case), when given."""
        where = [
            JobRow.guild_id == guild_id,
            JobRow.user_id == user_id,
            JobRow.state.in_(SHOWN_STATES),
            JobRow.scrubbed.is_(None),
        ]
        if kind:
            where.append(JobRow.kind == kind)
        if word:
            where.append(JobRow.prompt.ilike(_like(word), escape="\\"))
        async with self.db.session() as session:
            total = int(await session.scalar(select(func.count()).where(*where)) or 0)
            pages = max(1, -(-total // size))
            page = min(max(page, 0), pages - 1)
            rows = await session.execute(
                select(
                    JobRow.id,
                    JobRow.prompt,
                    JobRow.kind,
                    JobRow.request,
                    JobRow.private,
                    JobRow.created_at,
                    JobRow.completed_at,
                    JobRow.result_urls,
                    JobRow.channel_id,
                    JobRow.response_message_id,
                    JobRow.delivery_channel_message_id,
                )
                .where(*where)
                .order_by(JobRow.created_at.desc(), JobRow.id.desc())
                .offset(page * size)
                .limit(size)
            )
            entries = [
                HistoryEntry(
                    job_id=row.id,
                    prompt=row.prompt,
                    kind=row.kind,
                    seed=load_request(row.request).seed,
                    private=row.private,
                    created_at=row.created_at,
                    completed_at=row.completed_at,
                    result_url=row.result_urls[0] if row.result_urls else None,
                    channel_id=row.channel_id,
                    message_id=_message_id(row),
                )
                for row in rows
            ]
        return HistoryPage(entries=entries, page=page, pages=pages, total=total)

    async def forget(self, user_id: int, now: datetime) -> Forgotten:
        """Remove everything the member keeps with the bot, in every server: their jobs'
        prompts and images, their defaults and presets. Nothing while a job of theirs is
        still on the way (it needs its prompt to be posted)."""
        mine = JobRow.user_id == user_id
        async with self.db.session() as session:
            busy = await session.scalar(select(func.count()).where(mine, ~_settled()))
            if busy:
                return Forgotten(busy=int(busy))
            jobs = await _scrub(
                session,
                [mine, _settled(), JobRow.scrubbed.is_distinct_from("forgotten")],
                "forgotten",
            )
            await session.execute(
                update(JobRow)
                .where(mine, _settled(), JobRow.created_at < quota_window_start(now))
                .values(user_id=FORGOTTEN_USER)
                .execution_options(synchronize_session=False)
            )
            defaults = await session.execute(
                delete(MemberDefaultsRow).where(MemberDefaultsRow.user_id == user_id)
            )
            presets = await session.execute(
                delete(MemberPresetRow).where(MemberPresetRow.user_id == user_id)
            )
        return Forgotten(
            jobs=jobs,
            defaults=defaults.rowcount,  # type: ignore[attr-defined]
            presets=presets.rowcount,  # type: ignore[attr-defined]
        )

    async def purge(self, before: datetime) -> int:
        """Scrub every job created before `before` (HISTORY_DAYS ago); how many."""
        where = [JobRow.scrubbed.is_(None), JobRow.created_at < before, _settled()]
        total = 0
        while True:
            async with self.db.session() as session:
                done = await _scrub(session, where, "history", PURGE_BATCH)
            if not done:
                return total
            total += done
            await asyncio.sleep(0)  # others' statements between two batches

    async def anonymise_forgotten(self, now: datetime) -> int:
        """Forgotten members' jobs that no longer count towards a quota or a cooldown lose
        their user id; how many."""
        async with self.db.session() as session:
            result = await session.execute(
                update(JobRow)
                .where(
                    JobRow.scrubbed == "forgotten",
                    JobRow.user_id != FORGOTTEN_USER,
                    JobRow.created_at < quota_window_start(now),
                    _settled(),
                )
                .values(user_id=FORGOTTEN_USER)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]
