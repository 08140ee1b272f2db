"""Our local line of waiting jobs: who goes to Apiframe next (fair across members, within the
caps), and each waiting member's place, shown beside the loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from bot.jobs import queue
from bot.jobs.config import DriverConfig
from bot.jobs.progress import ProgressShower
from bot.storage.jobs import JobRecord, JobState, JobStore

log = logging.getLogger(__name__)

ACTIVE_AT_APIFRAME = {JobState.SUBMITTING, JobState.QUEUED, JobState.PROCESSING}
FRONT_OF_LINE = 20  # places up to here are edited as they change; further back, shown once


class Line:
    def __init__(
        self,
        store: JobStore,
        progress: ProgressShower,
        config: DriverConfig,
        *,
        owner: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.progress = progress
        self.config = config
        self.owner = owner
        self.clock = clock
        self.stopping = False
        self._positions: dict[str, int] = {}  # place last shown to each waiting member
        self._edits: asyncio.Task[None] | None = None

    async def admit(self, busy: Collection[str]) -> list[JobRecord]:
        """Move the jobs whose turn it is to `submitting`, leased to this process, and show
        the others their place. `busy`: jobs a step of this process is working on."""
        waiting = await self.store.by_states({JobState.PENDING})
        # Forget places shown to jobs that left the line some other way (cancelled, failed).
        for job_id in self._positions.keys() - {j.id for j in waiting}:
            del self._positions[job_id]
        if not waiting:
            return []
        in_flight = await self.store.by_states(ACTIVE_AT_APIFRAME)
        by_member: dict[int, int] = {}
        for running in in_flight:
            by_member[running.user_id] = by_member.get(running.user_id, 0) + 1
        last_served = await self.store.last_submitted({j.user_id for j in waiting})
        ordered = queue.fair_order(
            (queue.Waiting(j.id, j.user_id, j.created_at) for j in waiting if j.id not in busy),
            last_served,
        )
        chosen = queue.admit(
            ordered,
            in_flight=len(in_flight),
            in_flight_by_user=by_member,
            max_in_flight=self.config.max_in_flight,
            max_in_flight_per_member=self.config.max_in_flight_per_member,
        )
        now = self.clock()
        claimed: list[JobRecord] = []
        for entry in chosen:
            job = await self.store.transition(
                entry.job_id,
                {JobState.PENDING},
                JobState.SUBMITTING,
                lease_owner=self.owner,
                lease_until=now + timedelta(seconds=self.config.lease_seconds),
                # Due at once should this process die mid-submit: when the lease lapses, the
                # loop (here or elsewhere) submits again under the same idempotency key.
                next_check_at=now,
            )
            if job is not None:
                claimed.append(job)
        self._show_places(ordered, {c.job_id for c in chosen}, {j.id: j for j in waiting})
        return claimed

    def _show_places(
        self,
        ordered: list[queue.Waiting],
        chosen: set[str],
        records: dict[str, JobRecord],
    ) -> None:
        """Everyone still waiting sees their place: once at first, then whenever it changes
        near the front. The edits run beside the loop, so a long line never holds up polls
        and deliveries; a pass that finds them still running leaves them be."""
        if self._edits is not None and not self._edits.done():
            return
        edits: list[tuple[JobRecord, int]] = []
        position = 0
        for entry in ordered:
            if entry.job_id in chosen:
                self._positions.pop(entry.job_id, None)
                continue
            position += 1
            shown = self._positions.get(entry.job_id)
            if shown is None or (shown != position and position <= FRONT_OF_LINE):
                edits.append((records[entry.job_id], position))
        if edits:
            self._edits = asyncio.create_task(self._edit_places(edits))

    async def _edit_places(self, edits: list[tuple[JobRecord, int]]) -> None:
        for record, position in edits:
            if self.stopping:
                return
            try:
                if await self.progress.show(record, self.progress.waiting(record, position)):
                    self._positions[record.id] = position
            except Exception:
                log.exception("job %s: queue place not shown", record.id)

    async def stop(self) -> None:
        self.stopping = True
        if self._edits is not None:
            await asyncio.gather(self._edits, return_exceptions=True)
