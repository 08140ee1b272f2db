"""Process figures: event-loop lag and memory for /healthz, and every Prometheus family the bot
exports at /metrics.

Each `Metrics` holds its own `CollectorRegistry` (not prometheus_client's global one), so
several bots in one process (the tests) never clash, and one process serves exactly its own.
Labels are bounded: kinds, states, causes, operations and status codes; never a member, a
prompt or a job id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from bot import __version__
from bot.jobs.failures import FailureKind
from bot.jobs.request import JOB_KINDS

if TYPE_CHECKING:
    from bot.storage.jobs import JobRecord, JobStore

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNFINISHED = ("pending", "submitting", "queued", "processing", "completed")
FINISHED = ("delivered", "held", "failed", "cancelled", "timed_out")
FAILED = ("failed", "timed_out")
CAUSES = frozenset(FailureKind)
# The answers Discord counts towards its ban of 10,000 invalid requests in 10 minutes.
INVALID = (401, 403, 429)
# The sample names each family type exports, after its own name.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}


class LoopLagMonitor:
    """Measures how late the event loop wakes a 50 ms timer; a blocked loop shows up here."""

    def __init__(
        self,
        interval: float = 0.05,
        keep: int = 1200,
        observe: Callable[[float], None] | None = None,
    ) -> None:
        self.interval = interval
        self.samples: deque[float] = deque(maxlen=keep)
        self._observe = observe
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            lag = max(0.0, time.perf_counter() - start - self.interval)
            self.samples.append(lag)
            if self._observe is not None:
                self._observe(lag)

    def p99_ms(self) -> float | None:
        if len(self.samples) < 2:
            return None
        return round(statistics.quantiles(self.samples, n=100)[98] * 1000, 2)

    def max_ms(self) -> float | None:
        return round(max(self.samples) * 1000, 2) if self.samples else None


def peak_rss_mb() -> float:
    """The process's peak resident memory in MiB."""
    status = Path("/proc/self/status")
    if status.exists():
        # VmHWM starts afresh at exec; ru_maxrss may carry the parent's peak across it.
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)


def status_label(status: int) -> str:
    """An HTTP status as a label: the code itself (a bounded set), else `other`."""
    return str(status) if 100 <= status <= 599 else "other"


def status_class(status: int) -> str:
    """Discord's answers by class (`2xx`, `4xx`...), with 401, 403 and 429 on their own."""
    if status in INVALID:
        return str(status)
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


class Metrics:
    """The bot's Prometheus families in a registry of their own. The job store and service
    report to it (`job_created`, `job_moved`, `job_retried`), the Apiframe client counts its
    requests, and the composition root feeds it Discord's answers and the loop's lag."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        kind_state = ["kind", "state"]
        self.info = Gauge("flux_build_info", "The bot's version", ["version"], registry=r)
        self.info.labels(__version__).set(1)
        self.jobs_created = Counter(
            "flux_jobs_created", "Jobs asked for (written to the database)", ["kind"], registry=r
        )
        self.jobs_finished = Counter(
            "flux_jobs_finished", "Jobs that reached an end state", kind_state, registry=r
        )
        self.job_failures = Counter(
            "flux_job_failures", "Jobs failed or timed out, by cause", ["kind", "cause"], registry=r
        )
        self.jobs = Gauge(
            "flux_jobs",
            "Unfinished jobs by state, read from the (shared) database at each scrape",
            kind_state,
            registry=r,
        )
        self.queue_length = Gauge(
            "flux_queue_length", "Jobs waiting in the bot's own line (shared database)", registry=r
        )
        self.queue_wait = Histogram(
            "flux_queue_wait_seconds",
            "From the command to the job's turn to go to Apiframe",
            ["kind"],
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
        self.time_to_image = Histogram(
            "flux_time_to_image_seconds",
            "From the command to the image posted in Discord",
            ["kind"],
            buckets=(2, 5, 10, 15, 20, 25, 30, 40, 60, 90, 120, 180, 300, 600),
            registry=r,
        )
        self.completion_to_posted = Histogram(
            "flux_completion_to_posted_seconds",
            "From the bot learning a job finished (poll or webhook) to its image posted",
            ["kind"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60),
            registry=r,
        )
        self.job_retries = Counter(
            "flux_job_retries",
            "Job steps that failed unexpectedly and were scheduled again, by the job's state",
            ["state"],
            registry=r,
        )
        self.apiframe_requests = Counter(
            "flux_apiframe_requests",
            "Apiframe HTTP requests by operation and answer status (network: no answer)",
            ["operation", "status"],
            registry=r,
        )
        self.apiframe_errors = Counter(
            "flux_apiframe_errors",
            "Failed Apiframe attempts by operation and error class",
            ["operation", "error"],
            registry=r,
        )
        self.apiframe_retries = Counter(
            "flux_apiframe_retries",
            "Apiframe attempts retried, by operation and error class",
            ["operation", "error"],
            registry=r,
        )
        self.credits_reserved = Counter(
            "flux_credits_reserved", "Credits reserved as jobs were asked for", ["kind"], registry=r
        )
        self.credits_spent = Counter(
            "flux_credits_spent", "Credits charged for completed jobs", ["kind"], registry=r
        )
        self.discord_responses = Counter(
            "flux_discord_responses",
            "Discord REST answers by status class; 401, 403 and 429 on their own",
            ["status"],
            registry=r,
        )
        self.loop_lag = Histogram(
            "flux_event_loop_lag_seconds",
            "How late the event loop woke a 50 ms timer",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        peak = Gauge("flux_peak_resident_memory_bytes", "Peak resident memory", registry=r)
        peak.set_function(lambda: peak_rss_mb() * 2**20)
        ProcessCollector(registry=r)  # process_resident_memory_bytes, CPU, open files
        for kind in JOB_KINDS:  # every series from the start, so rate() has a beginning
            self.jobs_created.labels(kind)
            self.credits_reserved.labels(kind)
            self.credits_spent.labels(kind)
            for state in FINISHED:
                self.jobs_finished.labels(kind, state)
            for state in UNFINISHED:
                self.jobs.labels(kind, state).set(0)
        for code in ("2xx", *map(str, INVALID)):
            self.discord_responses.labels(code)

    # --- jobs (JobEvents) -------------------------------------------------------------

    def job_created(self, job: JobRecord) -> None:
        self.jobs_created.labels(job.kind).inc()
        if job.reserved_credits:
            self.credits_reserved.labels(job.kind).inc(job.reserved_credits)

    def job_moved(self, job: JobRecord, from_states: Collection[str]) -> None:
        """A compare-and-set moved `job` (as it is now) out of one of `from_states`."""
        state, kind = str(job.state), job.kind
        if state in from_states:
            return  # a guarded update within one state, not a move
        if state == "submitting" and "pending" in from_states:
            if (wait := _seconds(job.created_at, job.updated_at)) is not None:
                self.queue_wait.labels(kind).observe(wait)
        elif state == "completed":
            spent = job.credit_cost if job.credit_cost is not None else job.reserved_credits
            self.credits_spent.labels(kind).inc(spent or 0)
        elif state == "delivered" and "completed" in from_states:
            if (total := _seconds(job.created_at, job.delivered_at)) is not None:
                self.time_to_image.labels(kind).observe(total)
            if (posting := _seconds(job.completed_at, job.delivered_at)) is not None:
                self.completion_to_posted.labels(kind).observe(posting)
        if state in FINISHED:
            self.jobs_finished.labels(kind, state).inc()
        if state in FAILED:
            cause = job.error_kind if job.error_kind in CAUSES else "other"
            self.job_failures.labels(kind, cause).inc()

    def job_retried(self, job: JobRecord) -> None:
        self.job_retries.labels(str(job.state)).inc()

    # --- Apiframe and Discord ---------------------------------------------------------

    def apiframe_request(self, operation: str, status: int | None) -> None:
        label = "network" if status is None else status_label(status)
        self.apiframe_requests.labels(operation, label).inc()

    def apiframe_error(self, operation: str, error: Exception, *, retrying: bool) -> None:
        name = type(error).__name__  # the client's small exception tree: a bounded set
        self.apiframe_errors.labels(operation, name).inc()
        if retrying:
            self.apiframe_retries.labels(operation, name).inc()

    def discord_response(self, status: int | None) -> None:
        self.discord_responses.labels("network" if status is None else status_class(status)).inc()

    # --- the page -----------------------------------------------------------------------

    async def refresh(self, store: JobStore) -> None:
        """Read the gauges that live in the database (jobs by state, the line's length)."""
        try:
            counts = await store.unfinished_counts()
        except Exception as exc:  # the scrape still answers; /healthz reports the outage
            log.warning("metrics: cannot read job counts (%s)", type(exc).__name__)
            return
        for kind in {*JOB_KINDS, *(k for k, _ in counts)}:
            for state in UNFINISHED:
                self.jobs.labels(kind, state).set(counts.get((kind, state), 0))
        self.queue_length.set(sum(n for (_, state), n in counts.items() if state == "pending"))

    def render(self) -> bytes:
        """The registry in Prometheus's text format."""
        return generate_latest(self.registry)

    def family_names(self) -> set[str]:
        """Every sample name the registry exports or will (`_total`, `_bucket`... included),
        also for labelled families that have no series yet."""
        names: set[str] = set()
        for family in self.registry.collect():
            names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
            names.update(sample.name for sample in family.samples)
        return names


def rest_trace(metrics: Metrics) -> aiohttp.TraceConfig:
    """An aiohttp trace that counts Discord's REST answers (URLs under `/api/`; the gateway
    and the CDN are left out) for a discord.py client's `http_trace`."""
    trace = aiohttp.TraceConfig()

    async def on_end(_: Any, __: Any, params: aiohttp.TraceRequestEndParams) -> None:
        if "/api/" in params.url.path and params.response.status >= 200:
            metrics.discord_response(params.response.status)

    async def on_error(_: Any, __: Any, params: aiohttp.TraceRequestExceptionParams) -> None:
        if "/api/" in params.url.path:
            metrics.discord_response(None)

    trace.on_request_end.append(on_end)
    trace.on_request_exception.append(on_error)
    return trace
