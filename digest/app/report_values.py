"""The values the reports are made of (digest/app/reports.py computes them): frozen, with
``as_dict`` giving the documented JSON keys (docs/reports.md) that the CLI and the API print.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from digest.models import Edition
from digest.store import reports as store

# An unsubscribe counts against the edition whose link was used for this long after its send
# started: later ones say more about the reader than about that edition.
UNSUBSCRIBE_WINDOW_DAYS = 7
OPENS_LABEL = "opens (unreliable: mail privacy features prefetch images)"


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
class FrequencyWeek:
    """The editions of one frequency whose send started in one week, added up."""

    week: str
    editions: int
    recipients: int
    sent: int
    bounced_hard: int
    bounced_soft: int
    complained: int
    unsubscribed: int  # through these editions' links, within UNSUBSCRIBE_WINDOW_DAYS


@dataclass(frozen=True)
class FrequencyTrend:
    frequency: str
    weeks: tuple[FrequencyWeek, ...]


@dataclass(frozen=True)
class Trend:
    weeks: tuple[str, ...]
    categories: tuple[CategoryTrend, ...]
    funnel: tuple[FunnelWeek, ...]
    frequencies: tuple[FrequencyTrend, ...] = ()

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
            "frequencies": [
                {"frequency": f.frequency, "weeks": [dict(w.__dict__) for w in f.weeks]}
                for f in self.frequencies
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
