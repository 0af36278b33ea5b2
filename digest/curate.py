"""Which articles each subscriber gets in an edition.

Set-based: subscribers are grouped by what determines their content (their category set and
the cutoff of the last edition they received), and each group's articles are chosen once. The
send loop and the dry run stream recipients in group order, so a cache of a few groups is
enough however many subscribers there are.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.clock import from_db, to_db
from digest.config import Settings
from digest.errors import InputError
from digest.models import Article, ArticleRow, DigestContent, Frequency, RecipientRow, Section

CACHE_SIZE = 256


@dataclass(frozen=True)
class EditionWindow:
    frequency: str
    period: str  # 2026-W48 or 2026-11-28
    starts_at: datetime  # cutoff minus the look-back: the header's date range
    ends_at: datetime  # the cutoff: nothing that became available later is included


def period_of(frequency: str, moment: datetime, tz: ZoneInfo) -> tuple[str, datetime, datetime]:
    """The period containing ``moment`` in the site's timezone: (label, start, end) in UTC."""
    local = moment.astimezone(tz)
    if frequency == "daily":
        day = local.date()
        start_local = datetime.combine(day, time(0), tz)
        end_local = datetime.combine(day + timedelta(days=1), time(0), tz)
        label = day.isoformat()
    elif frequency == "weekly":
        iso = local.isocalendar()
        monday = local.date() - timedelta(days=local.weekday())
        start_local = datetime.combine(monday, time(0), tz)
        end_local = datetime.combine(monday + timedelta(days=7), time(0), tz)
        label = f"{iso.year}-W{iso.week:02d}"
    else:
        raise InputError(f"frequency: expected weekly or daily, got {frequency!r}")
    return label, start_local.astimezone(UTC), end_local.astimezone(UTC)


def lookback(settings: Settings, frequency: str) -> timedelta:
    days = (
        settings.digest.lookback_days_daily
        if frequency == "daily"
        else settings.digest.lookback_days_weekly
    )
    return timedelta(days=days)


def edition_window(settings: Settings, frequency: str, as_of: datetime) -> EditionWindow:
    """The edition an editor means by "send the weekly digest now": the period containing
    ``as_of``, cut off at ``as_of`` (truncated to the second, as stored)."""
    as_of = as_of.astimezone(UTC).replace(microsecond=0)
    period, _, _ = period_of(frequency, as_of, settings.tz)
    return EditionWindow(
        frequency=frequency,
        period=period,
        starts_at=as_of - lookback(settings, frequency),
        ends_at=as_of,
    )


@dataclass(frozen=True)
class EditionPlan:
    """What the editors decided for one edition: pinned articles lead their category (in
    this order, even when older than the newest N), excluded ones are never sent; an intro
    (sanitised HTML and its text rendering) and a subject of their own."""

    pins: dict[int, tuple[str, ...]] = field(default_factory=dict)  # category id -> ids
    excluded: frozenset[str] = frozenset()
    intro_html: str = ""
    intro_text: str = ""
    subject: str = ""


NO_PLAN = EditionPlan()


def build_sections(
    rows: list[ArticleRow],
    category_ids: tuple[int, ...],
    names: dict[int, tuple[str, str, int]],
    max_per_category: int,
    pins: dict[int, tuple[str, ...]] | None = None,
) -> tuple[Section, ...]:
    """Sections in the site's category order, newest first, at most ``max_per_category``
    each, with ``total`` the new articles the category had ("5 of 11"). An article in two of
    the reader's categories appears once, in the first. Pinned articles lead their category,
    before the newest (and on top of the N when there are more pins than N); an article
    pinned in one of the reader's categories appears only there."""
    by_category: dict[int, list[ArticleRow]] = {c: [] for c in category_ids}
    for row in rows:  # rows come newest first
        by_category.setdefault(row.category_id, []).append(row)
    ordered = sorted(category_ids, key=lambda c: (names[c][2], names[c][0]))
    pins = pins or {}
    pinned_here = {a: c for c in category_ids for a in pins.get(c, ())}
    seen: set[str] = set()
    sections: list[Section] = []
    for category_id in ordered:
        picked: list[Article] = []
        candidates = by_category.get(category_id, [])
        lead = pins.get(category_id, ())
        if lead:
            by_id = {row.id: row for row in candidates}
            for article_id in lead:
                pin = by_id.get(article_id)
                if pin is not None and pin.id not in seen:
                    seen.add(pin.id)
                    picked.append(_article(pin, names[category_id][0]))
        total = len(picked)
        limit = max(max_per_category, len(picked))
        for row in candidates:
            if row.id in seen:
                continue
            if pinned_here.get(row.id, category_id) != category_id:
                continue  # it leads another of the reader's categories
            total += 1
            if len(picked) >= limit:
                continue
            seen.add(row.id)
            picked.append(_article(row, names[category_id][0]))
        if picked:
            name, slug, _ = names[category_id]
            sections.append(
                Section(
                    category=name,
                    slug=slug,
                    articles=tuple(picked),
                    total=total,
                    category_id=category_id,
                )
            )
    return tuple(sections)


def _article(row: ArticleRow, category: str) -> Article:
    published = from_db(row.published_at)
    assert published is not None
    return Article(
        id=row.id,
        url=row.url,
        title=row.title,
        published_at=published,
        categories=(category,),
        summary=row.summary,
        author=row.author,
        image_url=row.image_url,
        image_alt=row.image_alt,
        words=row.words,
    )


# Category id -> (name, slug, position in the site's order).
CategoryNames = dict[int, tuple[str, str, int]]
# (published_after, available_until) as stored UTC text -> candidate article rows, newest
# first, one per (article, category): the store's ``available_articles``.
ArticleSource = Callable[[str, str], list[ArticleRow]]


class Curator:
    """Chooses content for recipients of one edition, once per group of alike recipients.
    Pure: the category names and the article query are passed in."""

    def __init__(
        self,
        settings: Settings,
        window: EditionWindow,
        *,
        names: CategoryNames,
        articles: ArticleSource,
        edition_id: int | None = None,
        plan: EditionPlan = NO_PLAN,
    ) -> None:
        self.settings = settings
        self.window = window
        self.edition_id = edition_id
        self.plan = plan
        self.names = names
        self._load = articles
        self.selections = 0  # article selections made: one per group, not per recipient
        self._rows: list[ArticleRow] | None = None
        self._cache: OrderedDict[tuple[tuple[int, ...], str | None, str], DigestContent | None] = (
            OrderedDict()
        )

    def _available(self) -> list[ArticleRow]:
        """The edition's candidate articles, read once: at most two look-backs old (a
        returning reader's oldest), available by the cutoff."""
        if self._rows is None:
            back = lookback(self.settings, self.window.frequency)
            self._rows = self._load(
                to_db(self.window.ends_at - 2 * back), to_db(self.window.ends_at)
            )
        return self._rows

    def content_for(self, recipient: RecipientRow) -> DigestContent | None:
        """The recipient's digest, or None when nothing is new for them."""
        key = (recipient.category_ids, recipient.last_sent_end, recipient.language)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        content = self.select(
            recipient.category_ids, recipient.last_sent_end, language=recipient.language
        )
        self._cache[key] = content
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return content

    def select(
        self, category_ids: tuple[int, ...], last_sent_end: str | None, *, language: str = ""
    ) -> DigestContent | None:
        self.selections += 1
        window = self.window
        back = lookback(self.settings, window.frequency)
        # New readers get the look-back. Returning readers get everything that became
        # available since their last cutoff, including articles imported late whose publish
        # time is a little before it; the look-back still caps how old those may be.
        oldest = window.ends_at - back
        last = from_db(last_sent_end)
        if last is not None:
            oldest = max(last, oldest) - back
        chosen = set(category_ids)
        after = to_db(oldest)
        excluded = self.plan.excluded
        rows = [
            row
            for row in self._available()
            if row.category_id in chosen
            and row.published_at > after
            and (last_sent_end is None or row.available_at > last_sent_end)
            and row.id not in excluded
        ]
        sections = build_sections(
            rows,
            category_ids,
            self.names,
            self.settings.digest.max_articles_per_category,
            self.plan.pins,
        )
        if not sections:
            return None
        return DigestContent(
            site_name=self.settings.site.name,
            frequency=Frequency(window.frequency),
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            sections=sections,
            edition_id=self.edition_id,
            language=language,
            intro_html=self.plan.intro_html,
            intro_text=self.plan.intro_text,
            subject=self.plan.subject,
            pinned=frozenset(a for ids in self.plan.pins.values() for a in ids),
        )

    def candidates(self, category_id: int) -> list[ArticleRow]:
        """The articles this edition could carry in one category for a new reader: filed
        under it, published in the look-back, available by the cutoff; newest first."""
        after = to_db(self.window.starts_at)
        return [
            row
            for row in self._available()
            if row.category_id == category_id and row.published_at > after
        ]
