"""Reports (issue 15, docs/reports.md): what an edition did, the weekly trend per category,
and the sign-up funnel. Read-only use cases; every figure comes from rows the send, the
bounce import, the web pages and the tracking redirect already write.

The values here are what `digest editions stats`, `digest stats`, the API and the editor's
desk all show, through ``as_dict`` (the documented JSON keys) or their fields.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from digest.app.base import AppBase
from digest.errors import InputError
from digest.models import Edition
from digest.store import editions as edition_store
from digest.store import reports as store
from digest.store import tracking as tracking_store

# An unsubscribe counts against the edition whose link was used for this long after its send
# started: later ones say more about the reader than about that edition.
UNSUBSCRIBE_WINDOW_DAYS = 7
OPENS_LABEL = "opens (unreliable: mail privacy features prefetch images)"
MAX_WEEKS = 520


@dataclass(frozen=True)
class DeliveryFacts:
    """Readers of an edition (or of one category in it), by what became of their digest."""

    recipients: int  # every delivery row: the readers fixed when the send started
    sent: int  # accepted by the relay
    pending: int  # not decided yet (pending, or in flight at a kill)
    deferred: int  # still being retried (4xx) when the send stopped
    failed: int  # refused by the relay (5xx) for this reader
    undeliverable: int  # no message could carry the address (e.g. SMTPUTF8 needed)
    skipped: int  # nothing new for them, or they left before their turn
    bounced_hard: int  # readers with a hard bounce: at send time or reported later
    bounced_soft: int  # readers with a soft bounce (incl. failed and deferred deliveries)
    complained: int  # readers who reported it as spam (feedback loops)
    policy: int  # x.7.x rejections: the sender's problem, not held against the reader
    unsubscribed: int  # through this edition's link, within UNSUBSCRIBE_WINDOW_DAYS

    @classmethod
    def of(cls, facts: store.Facts) -> DeliveryFacts:
        o, b = facts.outcomes, facts.bounces
        return cls(
            recipients=sum(o.values()),
            sent=o["sent"],
            pending=o["pending"] + o["sending"],
            deferred=o["deferred"],
            failed=o["failed"],
            undeliverable=o["undeliverable"],
            skipped=o["skipped"],
            bounced_hard=b["hard"],
            bounced_soft=b["soft"],
            complained=b["complaint"],
            policy=b["policy"],
            unsubscribed=facts.unsubscribed,
        )

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Clicks:
    """Clicks on an edition's links: people and link scanners apart. ``readers``: distinct
    people who clicked, known only in per-reader tracking mode (else None)."""

    clicks: int = 0
    scanner_clicks: int = 0
    readers: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CategoryStats:
    category: str
    slug: str
    deliveries: DeliveryFacts
    clicks: Clicks

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "slug": self.slug,
            **self.deliveries.as_dict(),
            "clicks": self.clicks.as_dict(),
        }


@dataclass(frozen=True)
class ArticleClicks:
    article_id: str
    title: str  # '' when the article has been deleted since
    url: str
    category: str
    clicks: Clicks

    def as_dict(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "category": self.category,
            **self.clicks.as_dict(),
        }


@dataclass(frozen=True)
class Opens:
    """Image fetches: unreliable (mail privacy features prefetch images), never used for
    anything automatic."""

    opens: int = 0
    scanner_opens: int = 0
    readers: int | None = None
    label: str = OPENS_LABEL

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class EditionStats:
    edition: Edition
    deliveries: DeliveryFacts
    categories: tuple[CategoryStats, ...]
    clicks: Clicks
    articles: tuple[ArticleClicks, ...]
    opens: Opens

    def as_dict(self) -> dict[str, Any]:
        """The documented JSON of `digest editions stats --json` and the API (docs/reports.md)."""
        e = self.edition
        return {
            "edition": {
                "id": e.id,
                "frequency": str(e.frequency),
                "period": e.period,
                "status": str(e.status),
                "started_at": _iso(e.started_at),
                "completed_at": _iso(e.completed_at),
            },
            "unsubscribe_window_days": UNSUBSCRIBE_WINDOW_DAYS,
            "deliveries": self.deliveries.as_dict(),
            "categories": [c.as_dict() for c in self.categories],
            "clicks": {**self.clicks.as_dict(), "articles": [a.as_dict() for a in self.articles]},
            "opens": self.opens.as_dict(),
        }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


@dataclass(frozen=True)
class WeekFigures:
    """One category in one week (UTC, Monday to Sunday)."""

    week: str  # ISO week, 2026-W48
    readers: int  # distinct readers sent a digest carrying the category that week
    unsubscribes: int  # readers of the category who unsubscribed that week (any link)
    clicks: int  # people's clicks on its articles in the editions sent that week
    scanner_clicks: int


@dataclass(frozen=True)
class CategoryTrend:
    category: str
    slug: str
    weeks: tuple[WeekFigures, ...]


@dataclass(frozen=True)
class FunnelWeek:
    """Web sign-ups in one week and what became of them."""

    week: str
    signups: int  # readers who asked and were mailed a confirm link (once per reader)
    confirmations: int  # of those, readers who confirmed (whenever they did)
    confirmation_rate: float | None  # confirmations / signups; None without sign-ups
    median_seconds_to_confirm: float | None  # from first asking that week to confirming


@dataclass(frozen=True)
class Trend:
    weeks: tuple[str, ...]
    categories: tuple[CategoryTrend, ...]
    funnel: tuple[FunnelWeek, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "weeks": list(self.weeks),
            "categories": [
                {
                    "category": c.category,
                    "slug": c.slug,
                    "weeks": [dict(w.__dict__) for w in c.weeks],
                }
                for c in self.categories
            ],
            "funnel": [dict(f.__dict__) for f in self.funnel],
        }


@dataclass(frozen=True)
class ChartPoint:
    edition_id: int
    label: str  # the edition's period, 2026-W48
    sent: int
    clicks: int
    unsubscribed: int


@dataclass(frozen=True)
class CategoryChart:
    category: str
    slug: str
    points: tuple[ChartPoint, ...]  # oldest first


@dataclass(frozen=True)
class DeskStats:
    charts: tuple[CategoryChart, ...]
    trend: Trend


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
        names = edition_store.category_names(db)
        facts = store.edition_facts(db, edition.id, UNSUBSCRIBE_WINDOW_DAYS)
        counts = tracking_store.edition_clicks(db, edition.id)
        readers = tracking_store.edition_click_readers(db, edition.id)
        per_category: dict[int, list[tracking_store.ClickCount]] = {}
        for c in counts:
            per_category.setdefault(c.category_id, []).append(c)
        ids = {f.category_id for f in facts if f.category_id is not None} | set(per_category)
        categories = tuple(
            CategoryStats(
                category=names.get(cid, (f"#{cid}", "", 0))[0],
                slug=names.get(cid, ("", f"category-{cid}", 0))[1],
                deliveries=DeliveryFacts.of(
                    next((f for f in facts if f.category_id == cid), _no_facts(cid))
                ),
                clicks=_clicks(per_category.get(cid, []), readers.get(cid)),
            )
            for cid in sorted(ids, key=lambda i: (names.get(i, ("", "", 1 << 30))[2], i))
        )
        titles = store.article_titles(db, sorted({c.article_id for c in counts}))
        articles = tuple(
            ArticleClicks(
                article_id=c.article_id,
                title=titles[c.article_id].title if c.article_id in titles else "",
                url=titles[c.article_id].url if c.article_id in titles else "",
                category=names.get(c.category_id, (f"#{c.category_id}", "", 0))[0],
                clicks=Clicks(c.clicks, c.scanner_clicks, c.readers),
            )
            for c in sorted(counts, key=lambda c: (-c.clicks, c.category_id, c.article_id))
        )
        opened = tracking_store.edition_opens(db, edition.id)
        return EditionStats(
            edition=edition,
            deliveries=DeliveryFacts.of(facts[0]),
            categories=categories,
            clicks=_clicks(counts, readers.get(None)),
            articles=articles,
            opens=Opens(opened.opens, opened.scanner_opens, opened.readers),
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
        for edition_id, week in store.editions_started_since(db, since):
            for c in tracking_store.edition_clicks(db, edition_id):
                figures = cell(week, c.category_id)
                figures[2] += c.clicks
                figures[3] += c.scanner_clicks
        names = edition_store.category_names(db)
        ids = sorted(
            {cid for _, cid in cells} | set(names),
            key=lambda i: (names.get(i, ("", "", 1 << 30))[2], i),
        )
        categories = tuple(
            CategoryTrend(
                category=names.get(cid, (f"#{cid}", "", 0))[0],
                slug=names.get(cid, ("", f"category-{cid}", 0))[1],
                weeks=tuple(
                    WeekFigures(_iso_week(m), *cells.get((m, cid), [0, 0, 0, 0])) for m in mondays
                ),
            )
            for cid in ids
        )
        return Trend(
            weeks=tuple(_iso_week(m) for m in mondays),
            categories=categories,
            funnel=_funnel(store.weekly_signups(db, since), mondays),
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
