"""Local queue order: round-robin across members, so one member cannot hog the bot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Waiting:
    job_id: str
    user_id: int
    created_at: datetime


def fair_order(
    waiting: Iterable[Waiting], last_served: Mapping[int, datetime] | None = None
) -> list[Waiting]:
    """Interleave members: everyone's first job, then everyone's second, and so on.

    Members served least recently go first (never served: first of all), then by their oldest
    waiting job, so a member with a burst of jobs takes turns with everyone else.
    """
    by_user: dict[int, list[Waiting]] = {}
    for job in sorted(waiting, key=lambda w: (w.created_at, w.job_id)):
        by_user.setdefault(job.user_id, []).append(job)
    served = last_served or {}
    lanes = sorted(
        by_user.values(),
        key=lambda lane: (
            served.get(lane[0].user_id, datetime.min.replace(tzinfo=UTC)),
            lane[0].created_at,
        ),
    )
    order: list[Waiting] = []
    depth = 0
    while len(order) < sum(len(lane) for lane in lanes):
        order.extend(lane[depth] for lane in lanes if depth < len(lane))
        depth += 1
    return order


def admit(
    ordered: Sequence[Waiting],
    *,
    in_flight: int,
    in_flight_by_user: Mapping[int, int],
    max_in_flight: int,
    max_in_flight_per_member: int,
) -> list[Waiting]:
    """The waiting jobs to submit now, respecting the global and per-member caps."""
    free = max_in_flight - in_flight
    counts = dict(in_flight_by_user)
    chosen: list[Waiting] = []
    for job in ordered:
        if free <= 0:
            break
        if counts.get(job.user_id, 0) >= max_in_flight_per_member:
            continue
        chosen.append(job)
        counts[job.user_id] = counts.get(job.user_id, 0) + 1
        free -= 1
    return chosen
