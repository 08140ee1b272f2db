"""How long the bot keeps what members wrote: a periodic task that removes prompts and image
links older than HISTORY_DAYS and takes the user id off forgotten members' jobs once those no
longer count towards a quota (see bot.storage.history)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.storage.history import HistoryStore
from bot.storage.jobs import utcnow

log = logging.getLogger(__name__)

RETENTION_INTERVAL = 3600.0  # seconds between two runs; the first runs at start-up


class Retention:
    """Runs `run_once` at start and then every `interval` seconds; a failed run is logged and
    tried again at the next."""

    def __init__(
        self,
        history: HistoryStore,
        days: int,
        *,
        interval: float = RETENTION_INTERVAL,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.history = history
        self.days = days
        self.interval = interval
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> tuple[int, int]:
        """Purge and anonymise now: how many jobs each touched."""
        now = self.clock()
        purged = await self.history.purge(now - timedelta(days=self.days))
        anonymised = await self.history.anonymise_forgotten(now)
        if purged or anonymised:
            log.info(
                "retention: %d jobs past %d days lost their prompts, %d forgotten jobs their"
                " member",
                purged,
                self.days,
                anonymised,
            )
        return purged, anonymised

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="retention")

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # the database may be away for a while: try at the next run
                log.exception("retention run failed; trying again in %.0f s", self.interval)
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
