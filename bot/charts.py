"""The usage chart `/flux-admin usage` attaches: images and credits per day, and the top
members. Drawn with matplotlib (its object API, no pyplot state, so it is safe in a worker
thread) on an opaque card that reads the same in Discord's dark and light themes.

Blocking (a few hundred milliseconds of CPU): call it through `asyncio.to_thread`.

Its labels are in the requester's language where the fonts at hand can draw it (Japanese needs
a CJK font such as IPAGothic or Noto Sans CJK installed); otherwise they are in English rather
than boxes.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

from babel import dates
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from bot import i18n
from bot.i18n import Renderable, t
from bot.storage.guilds import DayTotals

CARD = "#2b2d31"  # Discord's dark embed background: an opaque card, whatever the theme
TEXT = "#dbdee1"
GRID = "#4e5058"
IMAGES = "#5865f2"
CREDITS = "#fee75c"
MAX_BARS = 92  # beyond about three months, days are summed into months
WIDTH, HEIGHT, DPI = 10.0, 5.0, 100  # 1000 x 500 pixels
# Tried in order for each glyph: matplotlib's own font, then CJK fonts where installed.
FAMILIES = (
    "DejaVu Sans",  # i18n: not shown
    "Noto Sans CJK JP",  # i18n: not shown
    "IPAexGothic",
    "IPAGothic",
    "TakaoGothic",
)

IMAGES_LABEL = t("images")
CREDITS_LABEL = t("credits")
TOP_LABEL = t("top members (images)")
EMPTY_PERIOD = t("no images in this period")
NOBODY = t("nobody yet")


@dataclass(frozen=True, slots=True)
class Bucket:
    label: str
    images: int
    credits: int


def buckets(days: Sequence[DayTotals], lang: str = i18n.ENGLISH) -> list[Bucket]:
    """Days from the first with any use (labelled in `lang`); by month when there are too
    many to read."""
    used = [i for i, d in enumerate(days) if d.images or d.credits]
    shown = list(days[used[0] :]) if used else list(days)
    if len(shown) <= MAX_BARS:
        return [Bucket(_day_label(d.day, len(shown), lang), d.images, d.credits) for d in shown]
    months: dict[str, list[int]] = {}
    for d in shown:
        total = months.setdefault(f"{d.day:%Y-%m}", [0, 0])
        total[0] += d.images
        total[1] += d.credits
    return [Bucket(label, images, credits) for label, (images, credits) in months.items()]


def _day_label(day: date, count: int, lang: str) -> str:
    """ "Nov 3" ("3. Nov.", "11月3日"); a single day in full."""
    if count > 1:
        return dates.format_skeleton("MMMd", day, locale=lang)
    return day.isoformat()


@cache
def _families() -> tuple[str, ...]:
    """The fonts of FAMILIES that are installed, in order."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return tuple(family for family in FAMILIES if family in installed)


@cache
def _drawable() -> frozenset[int]:
    """The characters some installed font of FAMILIES has a glyph for."""
    found: set[int] = set()
    for family in _families():
        path = font_manager.findfont(font_manager.FontProperties(family=family))
        found.update(FT2Font(path).get_charmap())
    return frozenset(found)


def readable(text: str) -> bool:
    """Whether the installed fonts draw every character of `text` (spaces aside)."""
    return all(ord(c) in _drawable() for c in text if not c.isspace())


def chart_language(locale: object, title: Renderable) -> str:
    """The language of `locale` if the installed fonts draw the chart's words in it, else
    English."""
    lang = i18n.language(locale)
    shown = [i18n.render(x, lang) for x in (title, IMAGES_LABEL, CREDITS_LABEL, TOP_LABEL)]
    shown += [i18n.render(x, lang) for x in (EMPTY_PERIOD, NOBODY)]
    return lang if all(readable(x) for x in shown) else i18n.ENGLISH


def usage_chart(
    days: Sequence[DayTotals],
    top: Sequence[tuple[str, int]],
    title: Renderable,
    locale: object = None,
) -> bytes:
    """A PNG: images (bars) and credits (line) over the period, and the top members by
    images (up to 8, names as given); the title and labels in the language of `locale` when
    the fonts can draw it, else in English."""
    lang = chart_language(locale, title)
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, facecolor=CARD, layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, width_ratios=(2.2, 1), squeeze=True)
    figure.suptitle(i18n.render(title, lang), color=TEXT, fontsize=14, fontfamily=list(_families()))
    _over_time(left, buckets(days, lang), lang)
    _top_members(right, list(top)[:8], lang)
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


def _fonts(axes: Axes) -> None:
    """Tick labels (dates, members' names) drawn with every installed font to fall back on."""
    for label in (*axes.get_xticklabels(), *axes.get_yticklabels()):
        label.set_fontfamily(list(_families()))


def _over_time(axes: Axes, data: list[Bucket], lang: str) -> None:
    _style(axes)
    family = list(_families())
    positions = list(range(len(data)))
    axes.bar(positions, [b.images for b in data], color=IMAGES)
    axes.set_ylabel(i18n.render(IMAGES_LABEL, lang), color=IMAGES, fontfamily=family)
    axes.grid(axis="y", color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    step = max(1, len(data) // 10)
    axes.set_xticks(positions[::step], [b.label for b in data][::step], rotation=30)
    _fonts(axes)
    credits = axes.twinx()
    _style(credits)
    credits.plot(positions, [b.credits for b in data], color=CREDITS, marker="o", markersize=3)
    credits.set_ylabel(i18n.render(CREDITS_LABEL, lang), color=CREDITS, fontfamily=family)
    credits.set_ylim(bottom=0)
    if not any(b.images or b.credits for b in data):
        axes.text(
            0.5, 0.5, i18n.render(EMPTY_PERIOD, lang), color=TEXT, ha="center",
            transform=axes.transAxes, fontfamily=family,
        )  # fmt: skip


def _top_members(axes: Axes, top: list[tuple[str, int]], lang: str) -> None:
    _style(axes)
    family = list(_families())
    axes.set_title(i18n.render(TOP_LABEL, lang), color=TEXT, fontsize=11, fontfamily=family)
    rows = list(range(len(top)))
    axes.barh(rows, [count for _, count in top][::-1], color=IMAGES)
    axes.set_yticks(rows, [_clip(name) for name, _ in top][::-1])
    _fonts(axes)
    axes.grid(axis="x", color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    if not top:
        nobody = i18n.render(NOBODY, lang)
        axes.text(0.5, 0.5, nobody, color=TEXT, ha="center", transform=axes.transAxes)


def _clip(name: str, width: int = 18) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"
