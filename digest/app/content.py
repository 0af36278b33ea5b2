"""Use cases for what the digests carry: articles from feeds and files, and categories.
Ingest parses (values in, articles out); this stores them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.app.base import AppBase
from digest.config import FeedSettings
from digest.errors import InputError
from digest.ingest import articles_from_records, load_source
from digest.models import Article, Category, UpsertCounts
from digest.progress import NO_PROGRESS, Progress
from digest.store import articles as article_store
from digest.store import categories as category_store


@dataclass(frozen=True)
class CategoryResult:
    category: Category
    created: bool


class Content(AppBase):
    def import_articles(
        self,
        source: str,
        *,
        categories: Sequence[str] = (),
        since: datetime | None = None,
        progress: Progress = NO_PROGRESS,
    ) -> UpsertCounts:
        """Read one feed or file as a whole, then write it in one transaction: re-importing
        adds nothing, and an entry whose content changed is updated, not duplicated.
        ``progress`` sees two phases that move only when they end (each is one call)."""
        now = self.now()
        progress.start(None, "Reading")
        try:
            found = load_source(source, now=now, categories=categories, since=since)
        finally:
            progress.done()
        progress.start(len(found), "Saving")
        try:
            counts = article_store.upsert_articles(self.db, found, now, source=source)
            progress.advance(len(found))
        finally:
            progress.done()
        return counts

    def refresh_feed(self, feed: FeedSettings) -> UpsertCounts:
        """What `digest articles import URL [--category C]` does, for one [[feeds]] entry."""
        categories = (feed.category,) if feed.category else ()
        return self.import_articles(feed.url, categories=categories)

    def add_article(
        self,
        *,
        title: str,
        url: str,
        categories: Sequence[str],
        summary: str = "",
        published: datetime | None = None,
        author: str = "",
        image: str = "",
    ) -> tuple[Article, UpsertCounts]:
        """One article by hand (or an update of it, matched by URL), checked like an
        imported record."""
        now = self.now()
        record = {
            "url": url,
            "title": title,
            "summary": summary,
            "author": author,
            "image": image,
            "published": (published or now).isoformat(),
            "categories": list(categories),
        }
        [article] = articles_from_records([("articles add", record)], source="add", now=now)
        return article, article_store.upsert_articles(self.db, [article], now, source="add")

    def list_articles(
        self,
        *,
        category: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Article]:
        return article_store.list_articles(self.db, category=category, since=since, limit=limit)

    def list_categories(self) -> list[Category]:
        return category_store.list_categories(self.db)

    def add_category(self, name: str, description: str = "") -> CategoryResult:
        if not name.strip():
            raise InputError("category name: must not be empty")
        existing = category_store.find_category(self.db, name)
        if existing is not None:
            return CategoryResult(existing, created=False)
        with self.store.transaction() as db:
            category_store.ensure_category(db, name, description)
        created = category_store.find_category(self.db, name)
        assert created is not None  # just inserted
        return CategoryResult(created, created=True)
