"""Reports (issue 15, docs/reports.md): what an edition did, the weekly trend per category,
and the sign-up funnel. Read-only use cases; every figure comes from rows the send, the
bounce import, the web pages and the tracking redirect already write.

The values here are what `digest editions stats`, `digest stats`, the API and the editor's
desk all show, through ``as_dict`` (the documented JSON keys) or their fields.
"""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, time, timedelta

from digest.app.base import AppBase
from digest.app.report_values import (
    UNSUBSCRIBE_WINDOW_DAYS,
    ArticleClicks,
    CategoryChart,
    CategoryStats,
    CategoryTrend,
    ChartPoint,
    Clicks,
    DeliveryFacts,
    DeskStats,
    EditionStats,
    FrequencyTrend,
    FrequencyWeek,
    FunnelWeek,
    Opens,
    Trend,
    WeekFigures,
)
from digest.errors import InputError
from digest.models import Frequency
from digest.store import editions as edition_store
from digest.store import reports as store
from digest.store import tracking as tracking_store

MAX_WEEKS = 520


class Reports(AppBase):
    def edition_stats(self, edition_id: int | None = None) -> EditionStats:
        """Everything known about what one edition did (None: the latest sent);
        NotFoundError naming the id when there is no such edition."""
        if edition_id is None:
            edition_id = store.latest_sent_edition(self.db)
            if edition_id is None:
                raise InputError("no edition has been sent yet: nothing to report")
        db = self.db
        edition = edition_store.get_edition(db, edition_id)
        names = _Names(edition_store.category_names(db))
        facts = {
            f.category_id: f for f in store.edition_facts(db, edition.id, UNSUBSCRIBE_WINDOW_DAYS)
        }
        counts = tracking_store.edition_clicks(db, edition.id)
        readers = tracking_store.edition_click_readers(db, edition.id)
        per_category: dict[int, list[tracking_store.ClickCount]] = {}
        for c in counts:
            per_category.setdefault(c.category_id, []).append(c)
        ids = {cid for cid in facts if cid is not None} | set(per_category)
        categories = tuple(
            CategoryStats(
                category=names.name(cid),
                slug=names.slug(cid),
                deliveries=DeliveryFacts.of(facts.get(cid) or _no_facts(cid)),
                clicks=_clicks(per_category.get(cid, []), readers.get(cid)),
            )
            for cid in names.ordered(ids)
        )
        opened = tracking_store.edition_opens(db, edition.id)
        return EditionStats(
            edition=edition,
            deliveries=DeliveryFacts.of(facts[None]),
            categories=categories,
            clicks=_clicks(counts, readers.get(None)),
            articles=self._article_clicks(counts, names),
            opens=Opens(opened.opens, opened.scanner_opens, opened.readers),
        )

    def _article_clicks(
        self, counts: list[tracking_store.ClickCount], names: _Names
    ) -> tuple[ArticleClicks, ...]:
        """Each clicked article in each category, most clicked first, then in site order."""
        titles = store.article_titles(self.db, sorted({c.article_id for c in counts}))
        none = store.ArticleTitle("", "", "")
        return tuple(
            ArticleClicks(
                article_id=c.article_id,
                title=titles.get(c.article_id, none).title,
                url=titles.get(c.article_id, none).url,
                category=names.name(c.category_id),
                clicks=Clicks(c.clicks, c.scanner_clicks, c.readers),
            )
            for c in sorted(
                counts, key=lambda c: (-c.clicks, names.position(c.category_id), c.article_id)
            )
        )

    def weekly_trend(self, weeks: int = 12) -> Trend:
        """Per category and week, the last ``weeks`` UTC weeks up to this one: readers,
        unsubscribes, clicks; and the sign-up funnel per week."""
        if not 1 <= weeks <= MAX_WEEKS:
            raise InputError(f"--weeks must be between 1 and {MAX_WEEKS}, not {weeks}")
        db = self.db
        today = self.now().astimezone(UTC).date()
        first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
        since = datetime.combine(first, time(), tzinfo=UTC)
        mondays = [(first + timedelta(weeks=i)).isoformat() for i in range(weeks)]
        cells: dict[tuple[str, int], list[int]] = {}

        def cell(week: str, category_id: int) -> list[int]:
            return cells.setdefault((week, category_id), [0, 0, 0, 0])

        for week, cid, n in store.weekly_readers(db, since):
            cell(week, cid)[0] = n
        for week, cid, n in store.weekly_unsubscribes(db, since):
            cell(week, cid)[1] = n
        started = store.editions_started_since(db, since)
        for e in started:
            for c in tracking_store.edition_clicks(db, e.id):
                figures = cell(e.week, c.category_id)
                figures[2] += c.clicks
                figures[3] += c.scanner_clicks
        names = _Names(edition_store.category_names(db))
        categories = tuple(
            CategoryTrend(
                category=names.name(cid),
                slug=names.slug(cid),
                weeks=tuple(
                    WeekFigures(_iso_week(m), *cells.get((m, cid), [0, 0, 0, 0])) for m in mondays
                ),
            )
            for cid in names.ordered({cid for _, cid in cells} | set(names.rows))
        )
        return Trend(
            weeks=tuple(_iso_week(m) for m in mondays),
            categories=categories,
            funnel=_funnel(store.weekly_signups(db, since), mondays),
            frequencies=self._frequency_trend(started, mondays),
        )

    def _frequency_trend(
        self, started: list[store.StartedEdition], mondays: list[str]
    ) -> tuple[FrequencyTrend, ...]:
        """Per frequency and week, the figures of its editions added up."""
        sums: dict[tuple[str, str], list[int]] = {}
        for e in started:
            d = DeliveryFacts.of(store.edition_facts(self.db, e.id, UNSUBSCRIBE_WINDOW_DAYS)[0])
            row = sums.setdefault((e.frequency, e.week), [0] * 7)
            for i, value in enumerate(
                (
                    1,
                    d.recipients,
                    d.sent,
                    d.bounced_hard,
                    d.bounced_soft,
                    d.complained,
                    d.unsubscribed,
                )
            ):
                row[i] += value
        return tuple(
            FrequencyTrend(
                frequency=str(f),
                weeks=tuple(
                    FrequencyWeek(_iso_week(m), *sums.get((str(f), m), [0] * 7)) for m in mondays
                ),
            )
            for f in Frequency
        )

    def desk_stats(self, editions: int = 12, weeks: int = 12) -> DeskStats:
        """The desk's stats page: per category, the last ``editions`` editions sent (readers
        sent, clicks, unsubscribes), and the weekly trend with the sign-up funnel."""
        stats = [self.edition_stats(i) for i in store.recent_sent_editions(self.db, editions)]
        series: dict[str, tuple[str, list[ChartPoint]]] = {}
        for s in stats:
            for c in s.categories:
                _, points = series.setdefault(c.slug, (c.category, []))
                points.append(
                    ChartPoint(
                        s.edition.id,
                        s.edition.period,
                        c.deliveries.sent,
                        c.clicks.clicks,
                        c.deliveries.unsubscribed,
                    )
                )
        charts = tuple(
            CategoryChart(name, slug, tuple(points)) for slug, (name, points) in series.items()
        )
        return DeskStats(charts=charts, trend=self.weekly_trend(weeks))


class _Names:
    """Category names, slugs and the site's order, for ids (one deleted since: by its id)."""

    def __init__(self, rows: dict[int, tuple[str, str, int]]) -> None:
        self.rows = rows

    def name(self, category_id: int) -> str:
        return self.rows[category_id][0] if category_id in self.rows else f"#{category_id}"

    def slug(self, category_id: int) -> str:
        row = self.rows.get(category_id)
        return row[1] if row else f"category-{category_id}"

    def position(self, category_id: int) -> tuple[int, int]:
        row = self.rows.get(category_id)
        return (row[2] if row else 1 << 30, category_id)

    def ordered(self, ids: set[int]) -> list[int]:
        return sorted(ids, key=self.position)


def _no_facts(category_id: int) -> store.Facts:
    return store.Facts(
        category_id,
        dict.fromkeys(store.OUTCOMES, 0) | {"bounced": 0},
        dict.fromkeys(store.BOUNCE_KINDS, 0),
        0,
    )


def _clicks(counts: list[tracking_store.ClickCount], readers: int | None) -> Clicks:
    return Clicks(
        clicks=sum(c.clicks for c in counts),
        scanner_clicks=sum(c.scanner_clicks for c in counts),
        readers=readers,
    )


def readable_duration(seconds: float | None) -> str:
    """3d 4h, 2h 5m, 12m, 40s; '-' for none: how the CLI and the desk show a wait."""
    if seconds is None:
        return "-"
    s = round(seconds)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def _iso_week(monday: str) -> str:
    year, week, _ = date.fromisoformat(monday).isocalendar()
    return f"{year}-W{week:02d}"


def _funnel(rows: list[store.SignupRow], mondays: list[str]) -> tuple[FunnelWeek, ...]:
    by_week: dict[str, list[store.SignupRow]] = {}
    for r in rows:
        by_week.setdefault(r.week, []).append(r)
    out = []
    for monday in mondays:
        week = by_week.get(monday, [])
        waits = [
            (r.confirmed_at - r.first_at).total_seconds()
            for r in week
            if r.confirmed_at is not None
        ]
        out.append(
            FunnelWeek(
                week=_iso_week(monday),
                signups=len(week),
                confirmations=len(waits),
                confirmation_rate=round(len(waits) / len(week), 4) if week else None,
                median_seconds_to_confirm=statistics.median(waits) if waits else None,
            )
        )
    return tuple(out)
