"""The usage chart: what it plots and that it is a readable picture."""

from __future__ import annotations

import io
from datetime import date, timedelta

from PIL import Image

from bot import charts
from bot.storage.guilds import DayTotals


def days(start: date, counts: list[int]) -> list[DayTotals]:
    return [
        DayTotals(day=start + timedelta(days=i), images=n, credits=7 * n)
        for i, n in enumerate(counts)
    ]


def test_days_start_at_the_first_use() -> None:
    shown = charts.buckets(days(date(2026, 11, 1), [0, 0, 3, 0, 5]))
    assert [(b.label, b.images, b.credits) for b in shown] == [
        ("Nov 3", 3, 21),
        ("Nov 4", 0, 0),
        ("Nov 5", 5, 35),
    ]


def test_a_long_period_is_summed_by_month() -> None:
    """All time over a year: months, not 365 unreadable bars."""
    shown = charts.buckets(days(date(2025, 1, 1), [1] * 365))
    assert len(shown) == 12
    assert (shown[0].label, shown[0].images, shown[1].images) == ("2025-01", 31, 28)
    assert sum(b.credits for b in shown) == 7 * 365


def test_the_chart_is_an_opaque_picture_even_for_an_empty_period() -> None:
    for data, top in (([], []), (days(date(2026, 11, 1), [2, 4]), [("alice", 6), ("ユーザー", 1)])):
        png = charts.usage_chart(data, top, "Image bot usage: this month")
        with Image.open(io.BytesIO(png)) as drawn:
            assert drawn.format == "PNG"
            assert drawn.size == (1000, 500)
            assert drawn.convert("RGBA").getextrema()[3] == (255, 255)
