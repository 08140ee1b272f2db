"""Pure job logic: poll schedule, budget, failure wording and fair order."""

from __future__ import annotations

import asyncio
import math
import random
import statistics
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from bot.apiframe import errors
from bot.apiframe.client import ApiframeClient
from bot.apiframe.models import Job, Resolution
from bot.jobs import failures, queue, schedule
from bot.jobs.config import DriverConfig
from bot.jobs.failures import FailureKind
from bot.jobs.looks import Looks, completed_when
from bot.jobs.presenter import Presenter
from bot.jobs.progress import ProgressShower
from bot.jobs.request import Generate, JobRequest, Outpaint, Upscale
from bot.storage.jobs import JobRecord, JobStore


def test_expected_duration_learns_median() -> None:
    """The expectation is the median of recent durations once there are a few."""
    assert schedule.expected_duration([]) == schedule.DEFAULT_EXPECTED_SECONDS
    assert schedule.expected_duration([10.0, 12.0, 30.0]) == 12.0


def _simulate(expected: float, duration: float, share: float = 1.0) -> tuple[float, float]:
    """Looks at a job without percentages, each costing it `share` of a request (a page
    shared by 1/share jobs); returns what they cost and how late the last came."""
    track = schedule.Track(share=share)
    t = schedule.next_poll_delay(0, expected, track=track)
    track.spent += share
    while t < duration:
        t += schedule.next_poll_delay(t, expected, track=track)
        track.spent += share
    return track.spent, t - duration


def test_adaptive_polls_beat_a_fixed_loop_on_realistic_durations() -> None:
    """For lone jobs of the learned length ± 30 % without percentages, the schedule polls no
    more than a 2 s loop and sees half of them within 0.65 s of finishing (the loop: 1 s)."""
    rnd = random.Random(7)
    durations = [20.0 * (1 + rnd.uniform(-0.3, 0.3)) for _ in range(2000)]
    runs = [_simulate(20.0, d) for d in durations]
    fixed_polls = statistics.mean(math.ceil(d / 2) for d in durations)
    assert statistics.mean(polls for polls, _ in runs) <= fixed_polls
    assert statistics.median(added for _, added in runs) <= 0.65


def test_without_percentages_jobs_sharing_pages_are_looked_at_densely() -> None:
    """Eight jobs sharing each page: from when the earliest end, looks every OVERDUE_INTERVAL
    (the 2 s loop's requests pay for them), so most are seen within 0.2 s; still no more
    requests per job than the loop."""
    rnd = random.Random(5)
    durations = [20.0 * (1 + rnd.uniform(-0.3, 0.3)) for _ in range(2000)]
    runs = [_simulate(20.0, d, share=1 / 8) for d in durations]
    fixed_polls = statistics.mean(math.ceil(d / 2) for d in durations)
    assert statistics.mean(polls for polls, _ in runs) <= fixed_polls
    added = sorted(a for _, a in runs)
    assert statistics.median(added) <= 0.12
    assert added[int(len(added) * 0.95)] <= schedule.OVERDUE_INTERVAL


def test_looks_spend_no_more_than_the_fixed_loop() -> None:
    """A job whose looks have cost what a 2 s loop would have spent by now is looked at no
    sooner than the loop would; one with savings spends them over the window left."""
    spent = schedule.Track(spent=8.0)  # at 16 s the loop has spent 8
    assert schedule.dense_interval(16.0, 27.0, spent) == pytest.approx(schedule.NAIVE_INTERVAL)
    saved = schedule.Track(spent=2.0)  # 6 saved + 5.5 more by 27 s: 11.5 looks in 11 s
    assert schedule.dense_interval(16.0, 27.0, saved) == pytest.approx(11 / 11.5)
    shared = schedule.Track(spent=8.0, share=1 / 50)
    assert schedule.dense_interval(16.0, 27.0, shared) == schedule.OVERDUE_INTERVAL


def test_the_range_jobs_end_in_is_learned() -> None:
    """From enough timed jobs, the 5th to 95th percentile (widened a little); before that, ±
    DEFAULT_SPREAD around both the few timed and the configured prior."""
    learned = schedule.Durations.learned([float(s) for s in range(14, 27)], default=20.0)
    assert learned.expected == 20.0
    assert 13.0 < learned.early < 14.5
    assert 25.5 < learned.late < 27.0
    few = schedule.Durations.learned([14.0, 15.0, 16.0], default=20.0)
    assert few.expected == 15.0
    assert few.early == pytest.approx(15.0 * (1 - schedule.DEFAULT_SPREAD))
    assert few.late == pytest.approx(20.0 * (1 + schedule.DEFAULT_SPREAD))


def test_no_look_before_the_earliest_jobs_end_but_one_halfway() -> None:
    """Without percentages: one look halfway to when the earliest jobs end, the next then."""
    window = schedule.Durations(20.0, early=14.0, late=26.0)
    assert schedule.next_poll_delay(0.0, 20.0, durations=window) == pytest.approx(7.0)
    assert schedule.next_poll_delay(7.0, 20.0, 0, durations=window) == pytest.approx(7.0)


def test_a_rate_that_promised_too_early_gives_way_to_dense_looks() -> None:
    """Coarse percentages: the rate promised 20 s and the job still runs at 20.1 s; the next
    look is not the new prediction (here 24 s) but a dense one."""
    first = schedule.Reading(10.0, 35)
    track = schedule.Track(spent=3.0, share=1 / 8)
    schedule.promise(track, 18.0, 20.0, 85, first)  # 6.25 %/s from 85 %: at 20.4 s
    assert track.promised == pytest.approx(20.4)
    schedule.promise(track, 19.0, 20.0, 85, schedule.Reading(11.0, 60))  # later: kept
    assert track.promised == pytest.approx(20.4)
    window = schedule.Durations(20.0, early=13.0, late=27.0)
    later = schedule.Reading(10.0, 10)  # 85 % at 20.5 s from 10 % at 10 s: ends at 22.6
    untrusted = schedule.next_poll_delay(20.5, 20.0, 85, later, durations=window, track=track)
    assert untrusted == schedule.OVERDUE_INTERVAL
    trusted = schedule.next_poll_delay(20.5, 20.0, 85, later, durations=window)
    assert trusted == pytest.approx(22.6 - 20.5 + schedule.FINISH_LAG, abs=0.01)


def test_stragglers_are_still_checked_every_few_seconds() -> None:
    """A job far past its expected time is polled at least every MAX_INTERVAL seconds."""
    assert schedule.next_poll_delay(300.0, 20.0) == schedule.MAX_INTERVAL
    _, added = _simulate(20.0, 120.0)
    assert added <= schedule.MAX_INTERVAL


def test_progress_refines_the_finish_estimate() -> None:
    """At 50 % after 15 s the job is expected at 30 s, not at the learned 20 s; the next look
    comes most of the way there (at most PROBE_INTERVAL later) to learn the rate, and no
    later than when the earliest jobs end."""
    assert schedule.estimated_finish(15.0, 20.0, 50) == pytest.approx(30.0)
    window = schedule.Durations(20.0, early=30.0, late=40.0)
    assert schedule.next_poll_delay(15.0, 20.0, 50, durations=window) == schedule.PROBE_INTERVAL
    assert schedule.next_poll_delay(2.0, 20.0, 10, durations=window) == schedule.PROBE_INTERVAL
    early = schedule.Durations(20.0, early=13.0, late=27.0)
    assert schedule.next_poll_delay(2.0, 20.0, 10, durations=early) == pytest.approx(8.0)
    assert schedule.next_poll_delay(8.0, 20.0, 40, durations=early) == pytest.approx(5.0)


def test_two_readings_give_the_rate_and_the_finish() -> None:
    """From 40 % at 10 s and 80 % at 18 s (5 %/s) the job ends at 22 s, whatever time it
    spent queued; the next look comes just after that, and is the urgent one."""
    first = schedule.Reading(10.0, 40)
    assert schedule.estimated_finish(18.0, 20.0, 80, first) == pytest.approx(22.0)
    assert schedule.next_poll_delay(18.0, 20.0, 80, first) == pytest.approx(
        4.0 + schedule.FINISH_LAG
    )
    last = schedule.Reading(18.0, 80)
    assert not schedule.is_final_look(18.5, 20.0, first, last)
    assert schedule.is_final_look(22.0, 20.0, first, last)
    assert schedule.is_final_look(20.0, 20.0, None, None)  # no readings: the learned time
    # Progress that did not move gives no rate: back to the one-reading estimate.
    assert schedule.progress_rate(first, 18.0, 40) is None


def test_readings_keep_the_first_percentage_until_the_end() -> None:
    readings = schedule.Readings(keep=2)
    assert readings.note("a", 1.0, 0, terminal=False) is None  # queued: no percentage yet
    assert readings.note("a", 5.0, 20, terminal=False) is None
    assert readings.note("a", 9.0, 60, terminal=False) == schedule.Reading(5.0, 20)
    assert readings.note("a", 12.0, 100, terminal=True) is None
    assert readings.first("a") is None
    for job in "bcd":  # bounded: the oldest goes first
        readings.note(job, 1.0, 10, terminal=False)
    assert readings.first("b") is None
    assert readings.first("d") is not None


def _note_all(readings: schedule.Readings, values: list[int], elapsed: float = 6.0) -> None:
    for i, value in enumerate(values):
        readings.note(f"job{i}", elapsed, value, terminal=False)


def test_coarse_steps_are_told_from_real_progress() -> None:
    """Percentages that take only a few values (steps held for a fifth of a job each) are
    not trusted to place looks once eight are in; real progress keeps its trust, and so does
    anything before eight percentages are seen."""
    steps = schedule.Readings()
    _note_all(steps, [10, 35, 10, 10, 35, 10, 35])
    assert steps.telling()  # seven: too few to judge
    steps.note("job8", 6.0, 10, terminal=False)
    assert not steps.telling()
    real = schedule.Readings()
    _note_all(real, [23, 31, 37, 42, 28, 45, 19, 33])
    assert real.telling()
    many = schedule.Readings()  # 100 readings in 10 values: a tenth of them is too few
    _note_all(many, [5 + 9 * (i % 10) for i in range(100)])
    assert not many.telling()


def _job(job_id: str, request: JobRequest | None = None) -> JobRecord:
    return JobRecord.model_construct(id=job_id, request=request or Generate(resolution="1MP"))


def test_with_coarse_steps_looks_follow_the_learned_durations() -> None:
    """Once percentages prove coarse, a job's next look (and whether it is the urgent one)
    is what it would be without any percentage."""
    config = DriverConfig(expected_seconds=20.0)
    looks = Looks(cast(ApiframeClient, None), config, lambda job: 12.0)
    first = schedule.Reading(2.0, 10)
    # 10 % → 35 % in 6 s: 15.6 s more, so the longest wait between looks.
    assert looks.next_delay(_job("a"), 8.0, 35, first) == schedule.PROBE_INTERVAL
    _note_all(looks.readings, [10, 35] * 4)
    # Coarse: as without percentages, the next look when the earliest jobs end (13 s).
    assert looks.next_delay(_job("b"), 8.0, 35, first) == pytest.approx(5.0)
    assert schedule.next_poll_delay(8.0, 20.0, durations=looks.overall) == pytest.approx(5.0)
    looks.readings.note("c", 2.0, 10, terminal=False)
    looks.readings.note("c", 8.0, 85, terminal=False)  # a rate that says it ended at 9.2 s
    assert not looks.sweeper.urgent(_job("c"))  # at 12 s: the learned 20 s says it runs on


def test_durations_are_learned_by_kind_and_resolution() -> None:
    """4 MP generations, 0.5 MP ones and upscales each get the range their own group ends
    in once three are timed; a group timed fewer times goes by all jobs together."""
    looks = Looks(cast(ApiframeClient, None), DriverConfig(expected_seconds=20.0), lambda j: 0)
    recent = [("generate 4MP", 40.0 + i) for i in range(12)]
    recent += [("generate 0.5MP", 8.0 + i / 10) for i in range(12)]
    recent += [("upscale subtle 2", 5.0), ("upscale subtle 2", 6.0)]
    recent += [("outpaint", 28.0), ("outpaint", 30.0), ("outpaint", 32.0)]
    looks.learn(recent)
    big = looks.durations(_job("a", Generate(resolution="4MP")))
    small = looks.durations(_job("b", Generate(resolution="0.5MP")))
    assert small.early >= 7.5
    assert small.late <= 9.5
    assert big.early >= 39.0
    assert big.late <= 52.0
    assert looks.expected(_job("b", Generate(resolution="0.5MP"))) == pytest.approx(8.55)
    # Three timed: ± 35 % around their own median until ten are.
    outpaint = Outpaint(image="https://cdn.example/a.png", preset="Zoom out 2x")
    assert looks.durations(_job("o", outpaint)) == schedule.Durations(30.0, 19.5, 40.5)
    upscale = Upscale(image="https://cdn.example/a.png")  # two timed: not a group yet
    assert looks.durations(_job("c", upscale)) == looks.overall
    # The first look at a fresh job comes halfway to when its own group starts to end (for
    # 4 MP, after the longest wait between looks), not to when all jobs together do.
    fresh = looks.next_delay(_job("d", Generate(resolution="0.5MP")), 0)
    assert fresh == pytest.approx(small.early / 2)
    assert looks.next_delay(_job("e", Generate(resolution="4MP")), 0) == schedule.PROBE_INTERVAL
    assert looks.overall.early / 2 < 4.0


def test_members_are_told_the_time_jobs_like_theirs_take() -> None:
    """The time left shown while a job waits or runs is its group's: about 45 s for 4 MP,
    about 8 s for 0.5 MP, where all jobs together would say the same for both."""
    looks = Looks(cast(ApiframeClient, None), DriverConfig(expected_seconds=20.0), lambda j: 0)
    looks.learn([("generate 4MP", 40.0 + i) for i in range(11)] + [("generate 0.5MP", 8.0)] * 3)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    shower = ProgressShower(
        cast(JobStore, None), cast(Presenter, None), looks.config, lambda: now, looks.finish
    )

    def job(resolution: Resolution) -> JobRecord:
        return JobRecord.model_construct(
            id=resolution,
            request=Generate(resolution=resolution),
            state="queued",
            created_at=now,
            submitted_at=now,
        )

    assert shower.running(job("4MP"), None).eta_seconds == pytest.approx(45.0)
    assert shower.running(job("0.5MP"), None).eta_seconds == pytest.approx(8.0)
    assert shower.waiting(job("0.5MP"), 0).eta_seconds == pytest.approx(8.0)
    # 10 % read 2 s in, 35 % at 4 s: the rate says 5.2 s more; once percentages prove
    # coarse steps, the time left is the group's again (45 s from submission).
    later = job("4MP").model_copy(update={"submitted_at": now - timedelta(seconds=4)})
    first = schedule.Reading(2.0, 10)
    assert shower.running(later, 35, first).eta_seconds == pytest.approx(5.2)
    _note_all(looks.readings, [10, 35] * 4)
    assert shower.running(later, 35, first).eta_seconds == pytest.approx(41.0)


def test_a_job_is_timed_by_apiframe_not_by_when_it_was_seen() -> None:
    """A job Apiframe ran for 6 s, first seen done 13 s after submission, is recorded as done
    6 s after it; without Apiframe's times (or with nonsense ones) it is when it was seen."""
    sent = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    seen = sent + timedelta(seconds=13)
    job = JobRecord.model_construct(id="a", submitted_at=sent)
    at_apiframe = datetime(2026, 1, 1, 11, 0, 2, tzinfo=UTC)  # its clock may differ from ours
    ran = Job(
        id="j",
        status="COMPLETED",
        createdAt=at_apiframe,
        completedAt=at_apiframe + timedelta(seconds=6),
    )
    assert completed_when(job, ran, seen) == sent + timedelta(seconds=6)
    assert completed_when(job, Job(id="j", status="COMPLETED"), seen) == seen
    backwards = ran.model_copy(update={"completed_at": at_apiframe - timedelta(seconds=1)})
    assert completed_when(job, backwards, seen) == sent
    too_long = ran.model_copy(update={"completed_at": at_apiframe + timedelta(seconds=60)})
    assert completed_when(job, too_long, seen) == seen  # never after we learned of it


def test_savings_of_ended_jobs_pay_for_denser_looks_at_stragglers() -> None:
    """A job that ends having cost less than the 2 s loop's requests leaves the rest to the
    jobs still running; one that cost more takes it back; the pool is capped."""
    readings = schedule.Readings()
    readings.spend("a", 1.0)
    readings.spend("b", 1.0)
    readings.note("a", 20.0, 100, terminal=True)  # the loop: 10 requests, we: 1
    assert readings.pool == pytest.approx(9.0)
    assert readings.pooled() == schedule.POOL_SHARE  # b, the one left, may count on 5
    readings.spend("c", 1.0)
    assert readings.pooled() == pytest.approx(4.5)  # shared by b and c
    readings.spend("c", 24.0)
    readings.note("c", 20.0, 100, terminal=True)  # 25 spent where the loop spent 10
    assert readings.pool == 0.0
    for i in range(30):
        readings.spend(f"x{i}", 0.1)
        readings.note(f"x{i}", 20.0, 100, terminal=True)
    assert readings.pool == schedule.POOL_CAP
    readings.note("b", 20.0, 100, terminal=True)  # the last in flight: the next burst starts
    assert readings.pool == 0.0  # afresh, not on what this one saved
    alone = schedule.Track(spent=8.0)  # at 16 s the loop has spent 8: no savings of its own
    assert schedule.dense_interval(16.0, 27.0, alone) == pytest.approx(schedule.NAIVE_INTERVAL)
    pooled = schedule.dense_interval(16.0, 27.0, alone, pooled=5.5)  # 11 looks in 11 s
    assert pooled == pytest.approx(1.0)


def _simulate_with_progress(expected: float, queued: float, processing: float) -> tuple[int, float]:
    """Polls of a job that reports its percentage (floored, as integers) while processing."""

    def progress(t: float) -> int:
        return 0 if t < queued else min(99, int(100 * (t - queued) / processing))

    duration = queued + processing
    readings = schedule.Readings()
    t = schedule.next_poll_delay(0, expected)
    polls = 1
    while t < duration:
        first = readings.note("job", t, progress(t), terminal=False)
        t += schedule.next_poll_delay(t, expected, progress(t), first)
        polls += 1
    return polls, t - duration


def test_with_percentages_a_job_is_seen_soon_after_it_ends_with_few_polls() -> None:
    """Jobs of 20 s ± 30 % that report progress: at most a third of a 2 s loop's polls, half
    of them seen within 0.25 s of finishing and 95 % within 0.5 s."""
    rnd = random.Random(11)
    jobs = [(rnd.uniform(0.2, 1.5), 20.0 * (1 + rnd.uniform(-0.3, 0.3))) for _ in range(2000)]
    runs = [_simulate_with_progress(20.0, q, p) for q, p in jobs]
    fixed_polls = statistics.mean(math.ceil((q + p) / 2) for q, p in jobs)
    assert statistics.mean(polls for polls, _ in runs) <= fixed_polls / 3
    added = sorted(a for _, a in runs)
    assert statistics.median(added) <= 0.25
    assert added[int(len(added) * 0.95)] <= 0.5


async def test_a_final_look_goes_before_waiting_probes() -> None:
    """With the bucket empty, an urgent poll that arrives after a probe still gets the next
    token first."""
    budget = schedule.PollBudget(rate=20, burst=1)
    await budget.take()
    order: list[str] = []

    async def take(name: str, urgent: bool) -> None:
        await budget.take(urgent=urgent)
        order.append(name)

    probe = asyncio.create_task(take("probe", False))
    await asyncio.sleep(0)
    await take("final", True)
    await probe
    assert order == ["final", "probe"]


def test_webhook_mode_polls_rarely() -> None:
    """With webhooks the safety poll waits until well after the expected finish."""
    assert schedule.webhook_safety_delay(0, 20.0) == 50.0
    assert schedule.webhook_safety_delay(60, 20.0) == schedule.WEBHOOK_SAFETY_DELAY


async def test_poll_budget_limits_rate() -> None:
    """The bucket hands out `rate` tokens per second after the burst is spent."""
    now = [0.0]
    budget = schedule.PollBudget(rate=2, burst=2, clock=lambda: now[0])
    await budget.take()
    await budget.take()
    assert budget.wait_time() == pytest.approx(0.5)
    now[0] += 0.5
    assert budget.wait_time() == 0.0
    await budget.take()
    assert budget.wait_time() == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Provider returned an error: content policy violation", FailureKind.MODERATION),
        ("Request Moderated", FailureKind.MODERATION),
        ("Content Moderated", FailureKind.MODERATION),
        ("NSFW content detected", FailureKind.MODERATION),
        ("Provider returned 500", FailureKind.PROVIDER),
        (None, FailureKind.PROVIDER),
    ],
)
def test_job_errors_are_classified(text: str | None, kind: FailureKind) -> None:
    """Moderation wording maps to the content-policy message, anything else to provider."""
    failure = failures.from_job_error(text)
    assert failure.kind is kind
    assert (text or "zzz") not in failure.member_message.render("en")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Generation timed out", "took too long"),
        ("Service temporarily unavailable", "overloaded"),
        ("upstream at capacity", "overloaded"),
        ("Provider returned 500", "ran into a problem"),
    ],
)
def test_provider_failures_say_why_in_plain_words(text: str, words: str) -> None:
    failure = failures.from_job_error(text)
    assert failure.kind is FailureKind.PROVIDER
    message = failure.member_message.render("en")
    assert words in message
    assert "not counted" in message
    assert text not in message


def test_exceptions_are_classified_with_numbers_for_admins() -> None:
    """A 402 gives admins and members the numbers (in plain words), and no upstream text."""
    failure = failures.from_exception(
        errors.InsufficientCredits("upstream text", required=14, available=3)
    )
    assert failure.kind is FailureKind.CREDITS
    assert "needed 14, available 3" in failure.admin_detail
    message = failure.member_message.render("en")
    assert "out of image credits: this needed 14" in message
    assert "only 3 left" in message
    assert "upstream text" not in message + failure.admin_detail
    assert failures.from_exception(errors.AuthError("bad")).kind is FailureKind.AUTH
    assert failures.from_exception(RuntimeError("boom")).kind is FailureKind.INTERNAL


def _waiting(job: str, user: int, minute: int) -> queue.Waiting:
    return queue.Waiting(job, user, datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute))


def test_fair_order_is_round_robin_across_members() -> None:
    """A member with many jobs does not block others: jobs interleave by member."""
    jobs = [
        _waiting("a1", 1, 0),
        _waiting("a2", 1, 1),
        _waiting("a3", 1, 2),
        _waiting("b1", 2, 3),
        _waiting("c1", 3, 4),
        _waiting("b2", 2, 5),
    ]
    assert [w.job_id for w in queue.fair_order(jobs)] == ["a1", "b1", "c1", "a2", "b2", "a3"]


def test_least_recently_served_member_goes_first() -> None:
    """A member who was just served waits behind one who was not, even with older jobs."""
    jobs = [_waiting("a2", 1, 0), _waiting("a3", 1, 1), _waiting("b1", 2, 5)]
    served = {1: datetime(2026, 1, 1, 0, 30, tzinfo=UTC)}
    assert [w.job_id for w in queue.fair_order(jobs, served)] == ["b1", "a2", "a3"]


def test_admit_respects_global_and_member_caps() -> None:
    """Only free global slots are filled and a member at the cap is skipped."""
    ordered = queue.fair_order(
        [_waiting("a1", 1, 0), _waiting("a2", 1, 1), _waiting("b1", 2, 2), _waiting("c1", 3, 3)]
    )
    chosen = queue.admit(
        ordered, in_flight=1, in_flight_by_user={2: 1}, max_in_flight=3, max_in_flight_per_member=1
    )
    assert [w.job_id for w in chosen] == ["a1", "c1"]
