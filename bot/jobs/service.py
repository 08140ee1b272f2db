"""Creating and cancelling jobs: the one entry point the Discord layer uses to start work."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from bot.jobs.failures import FailureKind
from bot.jobs.request import JobRequest
from bot.moderation.gate import Limits, Refusal
from bot.storage.guilds import GuildStore
from bot.storage.jobs import TERMINAL, JobEvents, JobRecord, JobState, JobStore, NewJob, utcnow


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"
    STARTED = "started"  # already sent to Apiframe: it cannot be stopped (it has no cancel)
    ENDED = "ended"
    UNKNOWN = "unknown"


class JobService:
    """Writes a job row (before anything is paid for), cancels one still waiting, and wakes
    the driver."""

    def __init__(self, guilds: GuildStore, store: JobStore, wake: Callable[[], None]) -> None:
        self.guilds = guilds
        self.store = store
        self._wake = wake
        self.events: JobEvents | None = store.events  # told of each job written

    async def create(
        self,
        *,
        prompt: str,
        request: JobRequest,
        source: str = "command",
        parent_job_id: str | None = None,
        limits: Limits | None = None,
        **origin: Any,
    ) -> JobRecord | Refusal:
        """Persist a new waiting job, reserved against the member's `limits` (a refusal when
        they do not allow it). `origin` holds the Discord fields of `NewJob` (user, channel,
        interaction id and token, ...). The idempotency key comes from the interaction, so
        the same interaction can never buy two images, whichever process handles it."""
        job = await self.guilds.reserve(
            NewJob(
                id=str(uuid.uuid4()),
                idempotency_key=f"discord-{origin['interaction_id']}",  # i18n: not shown
                prompt=prompt,
                request=request,
                source=source,
                parent_job_id=parent_job_id,
                **origin,
            ),
            limits or Limits(),
            utcnow(),
        )
        if isinstance(job, JobRecord):
            if self.events is not None:
                self.events.job_created(job)
            self._wake()
        return job

    async def cancel_waiting(self, job_id: str, *, by_user_id: int) -> CancelOutcome:
        """Drop a job that is still in our local queue: nothing has been paid for it, and a
        cancelled job counts towards no limit. Compare-and-set, so the driver either took it
        first (STARTED) or never will."""
        cancelled = await self.store.transition(
            job_id,
            {JobState.PENDING},
            JobState.CANCELLED,
            error_kind=FailureKind.CANCELLED.value,
            error_message=f"cancelled by <@{by_user_id}> while waiting",  # i18n: not shown (admins)
            completed_at=utcnow(),
            next_check_at=None,
        )
        if cancelled is not None:
            self._wake()  # the members behind it move up
            return CancelOutcome.CANCELLED
        job = await self.store.get(job_id)
        if job is None:
            return CancelOutcome.UNKNOWN
        return CancelOutcome.ENDED if job.state in TERMINAL else CancelOutcome.STARTED
