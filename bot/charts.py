"""The usage chart `/flux-admin usage` attaches: images and credits per day, and the top
members. Drawn with matplotlib (its object API, no pyplot state, so it is safe in a worker
thread) on an opaque card that reads the same in Discord's dark and light themes.

Blocking (a few hundred milliseconds of CPU): call it through `asyncio.to_thread`.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.storage.guilds import DayTotals

CARD = "#2b2d31"  # Discord's dark embed background: an opaque card, whatever the theme
TEXT = "#dbdee1"
GRID = "#4e5058"
IMAGES = "#5865f2"
CREDITS = "#fee75c"
MAX_BARS = 92  # beyond about three months, days are summed into months
WIDTH, HEIGHT, DPI = 10.0, 5.0, 100  # 1000 x 500 pixels


@dataclass(frozen=True, slots=True)
class Bucket:
    label: str
    images: int
    credits: int


def buckets(days: Sequence[DayTotals]) -> list[Bucket]:
    """Days from the first with any use; by month when there are too many to read."""
    used = [i for i, d in enumerate(days) if d.images or d.credits]
    shown = list(days[used[0] :]) if used else list(days)
    if len(shown) <= MAX_BARS:
        return [Bucket(_day_label(d.day, len(shown)), d.images, d.credits) for d in shown]
    months: dict[str, list[int]] = {}
    for d in shown:
        total = months.setdefault(f"{d.day:%Y-%m}", [0, 0])
        total[0] += d.images
        total[1] += d.credits
    return [Bucket(label, images, credits) for label, (images, credits) in months.items()]


def _day_label(day: date, count: int) -> str:
    return f"{day:%b} {day.day}" if count > 1 else day.isoformat()


def usage_chart(days: Sequence[DayTotals], top: Sequence[tuple[str, int]], title: str) -> bytes:
    """A PNG: images (bars) and credits (line) over the period, and the top members by
    images (up to 8, names as given)."""
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, facecolor=CARD, layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, width_ratios=(2.2, 1), squeeze=True)
    figure.suptitle(title, color=TEXT, fontsize=14)
    _over_time(left, buckets(days))
    _top_members(right, list(top)[:8])
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a glyph a member's name uses that the font lacks
        figure.savefig(out, format="png", facecolor=CARD)
    return out.getvalue()


def _style(axes: Axes) -> None:
    axes.set_facecolor(CARD)
    axes.tick_params(colors=TEXT, labelsize=9)
    for spine in axes.spines.values():
        spine.set_color(GRID)


def _over_time(axes: Axes, data: list[Bucket]) -> None:
    _style(axes)
    positions = list(range(len(data)))
    axes.bar(positions, [b.images for b in data], color=IMAGES)
    axes.set_ylabel("images", color=IMAGES)
    axes.grid(axis="y", color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    step = max(1, len(data) // 10)
    axes.set_xticks(positions[::step], [b.label for b in data][::step], rotation=30)
    credits = axes.twinx()
    _style(credits)
    credits.plot(positions, [b.credits for b in data], color=CREDITS, marker="o", markersize=3)
    credits.set_ylabel("credits", color=CREDITS)
    credits.set_ylim(bottom=0)
    if not any(b.images or b.credits for b in data):
        axes.text(
            0.5, 0.5, "no images in this period", color=TEXT, ha="center",
            transform=axes.transAxes,
        )  # fmt: skip


def _top_members(axes: Axes, top: list[tuple[str, int]]) -> None:
    _style(axes)
    axes.set_title("top members (images)", color=TEXT, fontsize=11)
    rows = list(range(len(top)))
    axes.barh(rows, [count for _, count in top][::-1], color=IMAGES)
    axes.set_yticks(rows, [_clip(name) for name, _ in top][::-1])
    axes.grid(axis="x", color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    if not top:
        axes.text(0.5, 0.5, "nobody yet", color=TEXT, ha="center", transform=axes.transAxes)


def _clip(name: str, width: int = 18) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"
