"""What the job driver tells the outside world (Discord, in the bot) about a job.

The driver decides *what* happens and *when*; a presenter only renders it. Keeping this a small
protocol of plain values lets the driver run and be tested without discord.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from bot.images import FittedImage
from bot.jobs.failures import Failure
from bot.storage.jobs import JobRecord


class Stage(StrEnum):
    WAITING = "waiting"  # in our local queue, not yet sent to Apiframe
    QUEUED = "queued"  # accepted by Apiframe, not started
    GENERATING = "generating"
    FINISHING = "finishing"  # done at Apiframe; downloading and posting


class Progress(BaseModel):
    """A snapshot of a running job, as the member should see it."""

    model_config = ConfigDict(frozen=True)

    stage: Stage
    percent: int | None = None
    elapsed_seconds: float = 0.0
    position: int | None = None  # 1-based place in the local queue while waiting
    eta_seconds: float | None = None
    slow: bool = False  # past the soft timeout: "still working…"


class Route(StrEnum):
    INTERACTION = "interaction"  # edit the original response while its token lives
    CHANNEL = "channel"  # token expired: a normal channel message that mentions the member


class DeliveryError(Exception):
    """The presenter could not post the result; `retryable` says whether to try again later,
    `gone` that the message to edit can no longer be edited (the member deleted it, or the
    token is over), `expired` that the interaction's token is over, whatever the clock says."""

    def __init__(
        self, message: str, *, retryable: bool, gone: bool = False, expired: bool = False
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.gone = gone or expired
        self.expired = expired


class Presenter(Protocol):
    """Implemented by the Discord layer; every method may be retried, so be idempotent."""

    async def show_progress(self, job: JobRecord, progress: Progress) -> None: ...

    async def deliver(
        self, job: JobRecord, image: FittedImage, route: Route, *, original_url: str | None
    ) -> int | None:
        """Post the finished image; return the id of a channel message it created, if any."""
        ...

    async def show_failure(self, job: JobRecord, failure: Failure, route: Route) -> None: ...

    async def show_held(self, job: JobRecord) -> None:
        """Tell the member, in the original response, that the result waits in the inbox."""
        ...

    async def delivered(self, job: JobRecord) -> None:
        """Called once after the job is recorded as delivered: receipts, audit, budget."""
        ...
