"""Creating jobs: the one entry point the Discord layer (and the CLI) uses to start work."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from bot.jobs.options import GenerationOptions
from bot.moderation.gate import Limits, Refusal
from bot.storage.guilds import GuildStore
from bot.storage.jobs import JobRecord, NewJob, utcnow


class JobService:
    """Writes a job row (before anything is paid for) and wakes the driver."""

    def __init__(self, guilds: GuildStore, wake: Callable[[], None]) -> None:
        self.guilds = guilds
        self._wake = wake

    async def create(
        self,
        *,
        prompt: str,
        options: GenerationOptions,
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
                idempotency_key=f"discord-{origin['interaction_id']}",
                prompt=prompt,
                params=options.to_json(),
                source=source,
                parent_job_id=parent_job_id,
                **origin,
            ),
            limits or Limits(),
            utcnow(),
        )
        if isinstance(job, JobRecord):
            self._wake()
        return job
