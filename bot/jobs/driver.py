"""The one supervised loop that drives every unfinished job from submission to delivery.

State lives in the database, never only in memory: after a restart (or in another process
sharing a PostgreSQL database) the loop picks up every unfinished job where it stopped. A job
is submitted under its stored idempotency key, so a resumed submission never buys a second image.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from bot import images, logs
from bot.apiframe.client import ApiframeClient
from bot.apiframe.errors import ApiframeError
from bot.apiframe.models import Job, JobStatus
from bot.jobs import failures
from bot.jobs.config import DriverConfig
from bot.jobs.failures import Failure, FailureKind
from bot.jobs.line import ACTIVE_AT_APIFRAME, Line
from bot.jobs.looks import Looks, completed_when
from bot.jobs.presenter import DeliveryError, Presenter, Route
from bot.jobs.progress import ProgressShower
from bot.jobs.request import to_apiframe
from bot.jobs.sweep import SWEEP_AHEAD
from bot.storage.jobs import HeldReason, JobRecord, JobState, JobStore, utcnow

log = logging.getLogger(__name__)
TASK = "job-driver"  # i18n: not shown (the asyncio task's name)
TIMED_OUT = JobState.TIMED_OUT
RUNNING = {"pending", *ACTIVE_AT_APIFRAME}  # not yet finished at Apiframe
POLLED = {"queued", "processing"}
# After the hard timeout a job is still checked now and then: if Apiframe finishes (and so
# charges) it later, the image is delivered anyway. Results are kept about a day.
LATE_WINDOW_SECONDS = 24 * 3600
LAST_EDIT_MARGIN = timedelta(seconds=5)  # the latest a short edit may use a token


__all__ = ["DriverConfig", "JobDriver"]


class JobDriver:
    """Admits waiting jobs (`Line`), submits, polls (or waits for webhooks), downloads and
    delivers; progress on screen is `ProgressShower`'s."""

    def __init__(
        self,
        store: JobStore,
        client: ApiframeClient,
        presenter: Presenter,
        config: DriverConfig,
        *,
        owner: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.client = client
        self.presenter = presenter
        self.config = config
        self.owner = owner
        self.clock = clock
        self.looks = Looks(client, config, self._elapsed)
        self.sweeper = self.looks.sweeper
        self.sweeper.found = self._found_done
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._steps: set[asyncio.Task[None]] = set()
        self._busy: dict[str, asyncio.Future[Any]] = {}  # job id → the step working on it
        self.progress = ProgressShower(store, presenter, config, clock, self.looks.finish)
        self.line = Line(store, self.progress, config, owner=owner, clock=clock)
        self._stopping = False
        self._hurry = asyncio.Event()

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop (idempotent)."""
        if self._task is None or self._task.done():
            self._stopping = self.line.stopping = False
            self._hurry.clear()
            self._task = asyncio.create_task(self._supervise(), name=TASK)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the loop; steps under way (a poll, a delivery) get `grace` seconds to finish
        before they are cancelled. Unfinished jobs stay in the database."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            # The loop ends after its current pass; cancelling it inside a database call
            # would leave the connection to be rolled back by a cancelled task.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout=grace)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.line.stop()
        await self.sweeper.stop()
        if self._steps:
            steps = asyncio.ensure_future(asyncio.wait(list(self._steps)))
            hurry = asyncio.ensure_future(self._hurry.wait())
            await asyncio.wait({steps, hurry}, timeout=grace, return_when=FIRST_COMPLETED)
            steps.cancel()
            hurry.cancel()
        unfinished = set(self._busy)  # cancelled steps leave `_busy` as they end
        for step in list(self._steps):
            step.cancel()
        await asyncio.gather(*self._steps, return_exceptions=True)
        # Let another process (or the next start) take over at once.
        for job_id in unfinished:
            await self.store.release(job_id, self.owner)

    def hurry(self) -> None:
        """Stop waiting for the steps under way: `stop()` cancels them now (the jobs stay in
        the database and resume at the next start)."""
        self._hurry.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Something changed (a new job, a webhook): look again now."""
        self._wake.set()

    async def _supervise(self) -> None:
        while not self._stopping:
            try:
                await self._loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job driver loop crashed; restarting in 1 s")
                await asyncio.sleep(1)

    async def _loop(self) -> None:
        await self._learn()
        while not self._stopping:
            self._wake.clear()
            for job in await self.line.admit(self._busy):
                self._spawn(job, self._guarded(job, self._submit))
            await self._run_due()
            delay = await self._idle_delay()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _learn(self) -> None:
        self.looks.learn(await self.store.recent_durations())

    async def _idle_delay(self) -> float:
        next_at = await self.store.next_check_at()
        if next_at is None:
            return 5.0
        return min(5.0, max(0.05, (next_at - self.clock()).total_seconds()))

    def _spawn(self, job: JobRecord, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=f"job-{job.id}", context=logs.for_job(job))
        self._busy[job.id] = task
        self._steps.add(task)

        def _done(t: asyncio.Task[None]) -> None:
            self._steps.discard(t)
            if self._busy.get(job.id) is t:
                del self._busy[job.id]

        task.add_done_callback(_done)

    # --- due work ---------------------------------------------------------------------

    async def _run_due(self) -> None:
        claim = functools.partial(
            self.store.claim_due, self.owner, lease_seconds=self.config.lease_seconds
        )
        due = await claim(self.clock(), limit=64, exclude=self._busy)
        polled = [job for job in due if job.state in POLLED and job.id not in self._busy]
        if polled:  # jobs due in a moment join their look (one page for all, if enough)
            ahead, taken = self.clock() + timedelta(seconds=SWEEP_AHEAD), {j.id for j in due}
            polled += await claim(
                self.clock(), by=ahead, states=POLLED, exclude={*self._busy, *taken}
            )
        for job, step in self.sweeper.plan(polled, self._poll, self.apply_remote):
            self._spawn(job, self._guarded(job, step))
        steps = {"submitting": self._submit, TIMED_OUT: self._poll, "completed": self._deliver}
        for job in due:
            if job in polled:
                continue
            work = steps.get(job.state)
            if work is None or job.id in self._busy:  # (busy: a webhook took it up meanwhile)
                await self.store.release(job.id, self.owner)
            else:
                self._spawn(job, self._guarded(job, work))

    async def _guarded(
        self, job: JobRecord, step: Callable[[JobRecord], Coroutine[Any, Any, None]]
    ) -> None:
        """Run one step of one job; an unexpected error is retried later, never lost."""
        try:
            await step(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            attempts = job.attempts + 1
            log.exception("job %s: step %s failed (attempt %d)", job.id, step.__name__, attempts)
            current = await self.store.get(job.id) or job
            if attempts < self.config.max_attempts:
                backoff = min(60.0, 2**attempts) * (0.5 + random.random() / 2)  # noqa: S311
                await self.store.retry_later(
                    job.id,
                    self.owner,
                    current.state,
                    attempts=attempts,
                    at=self.clock() + timedelta(seconds=backoff),
                )
            elif current.state == "completed":
                # Finished and paid for: keep it for the member's /flux-inbox.
                await self._hold(job.id, HeldReason.REFUSED, exc)
            else:
                await self._fail(current, failures.from_exception(exc))
        finally:
            self.wake()

    # --- submit -----------------------------------------------------------------------

    async def _submit(self, job: JobRecord) -> None:
        request = to_apiframe(job.prompt, job.request, webhook_url=self.config.webhook_url)
        try:
            accepted = await self.client.submit(request, idempotency_key=job.idempotency_key)
        except ApiframeError as exc:
            if exc.retryable:
                raise  # the guard retries later with the same idempotency key
            await self._fail(job, failures.from_exception(exc))
            return
        now = self.clock()
        updated = await self._move(
            job.id,
            {"submitting"},
            "queued",
            apiframe_job_id=accepted.job_id,
            submitted_at=now,
            attempts=0,
            next_check_at=now + timedelta(seconds=self.looks.next_delay(job, 0)),
        )
        log.info("job %s submitted as %s", job.id, accepted.job_id)
        if updated is not None:
            await self.progress.show(updated, self.progress.running(updated, None), force=True)

    # --- poll -------------------------------------------------------------------------

    async def _poll(self, job: JobRecord) -> None:
        if job.apiframe_job_id is None:  # cannot happen past `submitting`; resubmit to be safe
            await self._submit(job)
            return
        await self.looks.budget.take(urgent=self.sweeper.urgent(job))
        self.looks.readings.spend(job.id, 1.0)
        remote = await self.client.get_job(job.apiframe_job_id)
        await self.apply_remote(job, remote)

    def _elapsed(self, job: JobRecord) -> float:
        return (self.clock() - (job.submitted_at or job.created_at)).total_seconds()

    async def apply_webhook(self, job: JobRecord, remote: Job) -> None:
        """Fold a webhook's job state in, as a guarded step: an error is retried by polling.
        It waits for a step of this process already working on the job (a poll), then reads
        the job afresh, so two steps never work one job at once here."""

        async def webhook(job: JobRecord) -> None:
            await self.apply_remote(job, remote)

        if not remote.status.is_terminal and job.id in self._busy:
            return  # progress while the job is being worked on: later news supersedes it
        waited = False
        async with asyncio.timeout(self.config.lease_seconds):
            while (other := self._busy.get(job.id)) is not None:
                waited = True
                await asyncio.wait([other])
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._busy[job.id] = done
        try:
            current = await self.store.get(job.id) if waited else job
            if current is not None:
                await self._guarded(current, webhook)
        finally:
            if self._busy.get(job.id) is done:
                del self._busy[job.id]
            done.set_result(None)

    def _found_done(self, job_id: str, remote: Job) -> None:
        """A page showed a job finished before its look was due: take it up now, as a webhook."""

        async def found() -> None:
            if (job := await self.store.get(job_id)) is not None and job.state in POLLED:
                await self.apply_webhook(job, remote)

        (task := asyncio.create_task(found(), name=f"found-{job_id}")).add_done_callback(
            self._steps.discard
        )
        self._steps.add(task)

    async def apply_remote(self, job: JobRecord, remote: Job) -> JobRecord | None:
        """Fold a job state from Apiframe (a poll or a webhook) into ours."""
        now, elapsed = self.clock(), self._elapsed(job)
        first = self.looks.readings.note(
            job.id, elapsed, remote.progress, remote.status.is_terminal
        )
        if remote.status is JobStatus.COMPLETED:
            urls = remote.image_urls
            if not urls:
                await self._fail(job, failures.no_images())
                return None
            # Leased to this process while it delivers, so neither its own loop nor another
            # process picks the job up meanwhile; if this process dies, the lease lapses and
            # whoever claims it next delivers.
            done = await self.store.transition(
                job.id,
                {"queued", "processing", TIMED_OUT},
                "completed",
                result_urls=urls,
                credit_cost=remote.credit_cost,
                progress=100,
                completed_at=completed_when(job, remote, now),
                next_check_at=now,
                lease_owner=self.owner,
                lease_until=now + timedelta(seconds=self.config.lease_seconds),
            )
            if done is not None:
                await self._deliver(done)
            return done
        if job.state == TIMED_OUT:
            # The member was already told; only a late success changes anything.
            late = not remote.status.is_terminal and elapsed < LATE_WINDOW_SECONDS
            next_at = now + timedelta(seconds=self.config.late_check_seconds) if late else None
            return await self._move(job.id, {TIMED_OUT}, TIMED_OUT, next_check_at=next_at)
        if remote.status is JobStatus.FAILED:
            await self._fail(job, failures.from_job_error(remote.error))
            return None
        if remote.status is JobStatus.CANCELLED:
            await self._fail(job, failures.cancelled())
            return None
        if elapsed > self.config.hard_timeout:
            await self._fail(job, failures.timed_out(elapsed), state=TIMED_OUT)
            return None
        state = "processing" if remote.status is JobStatus.PROCESSING else job.state
        delay = self.looks.next_delay(job, elapsed, remote.progress, first)
        # Look again by the next timeout, so "still working…" and the hard stop come on time.
        for limit in sorted((self.config.soft_timeout, self.config.hard_timeout)):
            if elapsed < limit:
                delay = min(delay, limit - elapsed + 0.05)
                break
        # A change that coalescing keeps off screen now is shown at the end of the window,
        # not only at the next poll (which may come much later, or be the finish).
        changed = state != job.state or (
            remote.progress is not None and remote.progress != job.progress
        )
        # (With webhooks the next one brings the news: no extra poll for it.)
        if changed and job.last_progress_edit_at is not None and not self.config.webhook_url:
            since = (now - job.last_progress_edit_at).total_seconds()
            if since < self.config.progress_interval:
                delay = min(delay, self.config.progress_interval - since + 0.05)
        updated = await self._move(
            job.id,
            {"queued", "processing"},
            state,
            progress=remote.progress if remote.progress is not None else job.progress,
            started_at=job.started_at or (now if state == "processing" else None),
            next_check_at=now + timedelta(seconds=delay),
        )
        if updated is not None:
            await self.progress.show(
                updated, self.progress.running(updated, remote.progress, first)
            )
        return updated

    # --- deliver ----------------------------------------------------------------------

    async def _deliver(self, job: JobRecord) -> None:
        """Download the result at once (its URL expires), fit it, post it exactly once."""
        if job.private and self.progress.route(job) is Route.CHANNEL:
            # A private result cannot be posted once the token is gone: hold it for the
            # member's inbox (Apiframe keeps the file about a day).
            held = await self._hold(job.id, HeldReason.LATE)
            log.info("job %s finished after its token expired; held for the inbox", job.id)
            expires = job.token_expires_at
            # Too close to the token's end for an upload, but a short edit still fits.
            if held is not None and expires and self.clock() < expires - LAST_EDIT_MARGIN:
                await self.progress.show_held(held)
            return
        url = job.result_urls[0]
        started = time.perf_counter()
        try:
            downloaded = await self.client.download(url)
        except ApiframeError as exc:
            if exc.retryable:
                raise
            await self._fail(job, failures.from_exception(exc))
            return
        fetched = time.perf_counter()
        limit = job.upload_limit or 10 * 2**20
        fitted = await images.fit_async(downloaded.data, limit)
        fitted_at = time.perf_counter()
        route = self.progress.route(job)
        try:
            message_id = await self.presenter.deliver(job, fitted, route, original_url=url)
        except DeliveryError as exc:
            if exc.expired and route is Route.INTERACTION:
                # Discord ended the token early: deliver as if it had expired (no loop: the
                # channel route uses no token).
                ended = await self.store.update(job.id, token_expires_at=self.clock())
                await self._deliver(ended or job)
                return
            if exc.retryable:
                raise
            # Paid for, so never dropped: the member can still fetch it with /flux-inbox.
            log.warning("job %s: could not be posted (%s); held for the inbox", job.id, exc)
            held = await self._hold(job.id, HeldReason.REFUSED, exc)
            if held is not None and route is Route.INTERACTION:
                await self.progress.show_held(held)
            return
        now = self.clock()
        delivered = await self._move(
            job.id,
            {"completed"},
            "delivered",
            delivered_at=now,
            delivery_channel_message_id=message_id,
            delivery_note=str(fitted.note) if fitted.note else None,  # English, for admins
            next_check_at=None,
        )
        if delivered is not None:  # only the process that delivered it reports it, once
            try:
                await self.presenter.delivered(delivered)
            except Exception:
                log.exception("job %s: delivered, but reporting it failed", job.id)
        took = ((job.completed_at or now) - (job.submitted_at or job.created_at)).total_seconds()
        times = (fetched - started, fitted_at - fetched, time.perf_counter() - fitted_at)
        steps = "/".join(f"{t * 1000:.0f}" for t in times)
        parts = (job.id, route, took, steps)
        log.info("job %s delivered via %s after %.1f s (download/fit/post %s ms)", *parts)
        await self._learn()

    async def _move(
        self, job_id: str, from_states: set[str], to_state: str, **fields: Any
    ) -> JobRecord | None:
        """Compare-and-set the job's state and give up this process's lease on it."""
        return await self.store.transition(
            job_id, from_states, to_state, lease_owner=None, lease_until=None, **fields
        )

    async def _hold(
        self, job_id: str, reason: HeldReason, problem: Exception | None = None
    ) -> JobRecord | None:
        """Keep a finished, paid-for job for the member's /flux-inbox (`problem`: why it could
        not be posted, noted in English for the admins)."""
        note = f"could not be posted: {problem}"[:500] if problem else None  # i18n: not shown
        return await self._move(
            job_id,
            {"completed"},
            "held",
            held_reason=reason,
            delivery_note=note,
            next_check_at=None,
        )

    async def _fail(self, job: JobRecord, failure: Failure, *, state: str = "failed") -> None:
        """Mark the job failed (never counted against the member; against the budget only
        what Apiframe charged, i.e. for a job it completed) and tell the member."""
        if job.state == TIMED_OUT:
            # The member was told long ago; a late check that goes wrong just stops checking.
            await self._move(job.id, {TIMED_OUT}, TIMED_OUT, next_check_at=None)
            return
        level = logging.ERROR if failure.kind in (FailureKind.AUTH, FailureKind.CREDITS) else 20
        log.log(level, "job %s failed: %s", job.id, failure.admin_detail)
        # Only from the state the caller saw: a stale poll must not undo a completion that a
        # webhook (or another process) has recorded meanwhile.
        seen = {"completed"} if job.state == "completed" else set(RUNNING)
        updated = await self._move(
            job.id,
            seen,
            state,
            error_kind=failure.kind.value,
            error_message=failure.admin_detail,
            credit_cost=job.credit_cost if job.state == "completed" else 0,
            completed_at=self.clock(),
            next_check_at=(
                self.clock() + timedelta(seconds=self.config.late_check_seconds)
                if state == TIMED_OUT
                else None
            ),
        )
        if updated is None:
            return
        try:
            await self.presenter.show_failure(updated, failure, self.progress.route(updated))
        except DeliveryError as exc:
            log.warning("job %s: failure notice not shown: %s", job.id, exc)
