"""The desk's Stats page: a chart per category over the last 12 editions (server-drawn SVG:
no script, which the desk's CSP forbids anyway) with its numbers as a table beside it, the
weekly trend and the sign-up funnel. The figures are the core's (digest/app/reports.py,
docs/reports.md); this module only lays them out."""

from __future__ import annotations

from dataclasses import dataclass

from digest.app import CategoryChart
from digest.app.reports import readable_duration
from digest.web.admin.guard import Page, bp, page
from digest.web.context import core

# The chart's own coordinates (viewBox); it scales to the width it is given, down to 390 px
# phones, so text sizes are chosen to stay near 9-10 px there.
WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 34, 8, 18, 30
EDITIONS = 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    centre: float
    sent: int
    label: str  # the edition, short: W48 or 11-28
    clicks_y: float


@dataclass(frozen=True)
class Chart:
    slug: str
    category: str
    description: str
    bars: tuple[Bar, ...]
    clicks_line: str  # SVG polyline points
    grid: tuple[tuple[float, int], ...]  # (y, value) of each horizontal line
    data: CategoryChart


def nice_top(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k at least ``value``: round gridline values."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if step * top >= value:
                return step * top
        top *= 10


def short_label(period: str) -> str:
    """2026-W48 -> W48, 2026-11-28 -> 11-28: the year is in the table and the description."""
    return period.split("-", 1)[1] if "-" in period else period


def chart(data: CategoryChart) -> Chart:
    points = data.points
    top = nice_top(max([1, *(p.sent for p in points), *(p.clicks for p in points)]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(points), 1)
    base = TOP + plot_h

    def y(value: int) -> float:
        return round(base - plot_h * value / top, 1)

    bars = tuple(
        Bar(
            x=round(LEFT + i * slot + slot * 0.2, 1),
            y=y(p.sent),
            width=round(slot * 0.6, 1),
            height=round(base - y(p.sent), 1),
            centre=round(LEFT + (i + 0.5) * slot, 1),
            sent=p.sent,
            label=short_label(p.label),
            clicks_y=y(p.clicks),
        )
        for i, p in enumerate(points)
    )
    span = f"{points[0].label} to {points[-1].label}" if points else "no editions"
    description = (
        f"Bars: readers sent each edition of {data.category}; line: people's clicks; "
        f"{len(points)} edition(s), {span}. The table gives every figure."
    )
    return Chart(
        slug=data.slug,
        category=data.category,
        description=description,
        bars=bars,
        clicks_line=" ".join(f"{b.centre},{b.clicks_y}" for b in bars),
        grid=((y(0), 0), (y(top // 2), top // 2), (y(top), top))
        if top > 1
        else ((y(0), 0), (y(1), 1)),
        data=data,
    )


@bp.get("/stats")
def stats() -> Page:
    figures = core().desk_stats(editions=EDITIONS, weeks=12)
    return page(
        "stats.html",
        charts=[chart(c) for c in figures.charts],
        trend=figures.trend,
        waits=[readable_duration(f.median_seconds_to_confirm) for f in figures.trend.funnel],
        size=(WIDTH, HEIGHT),
        left=LEFT,
        right=WIDTH - RIGHT,
    )
