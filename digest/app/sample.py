"""The built-in sample data, loaded through the same use cases as an operator's imports."""

from __future__ import annotations

import json
from dataclasses import dataclass

from digest.app.audience import Audience
from digest.app.content import Content
from digest.errors import InputError
from digest.ingest import articles_from_records
from digest.sample import SOURCE as SAMPLE_SOURCE
from digest.sample import sample_path, sample_records
from digest.store import articles as article_store
from digest.store import categories as category_store


@dataclass(frozen=True)
class SampleResult:
    articles_added: int
    subscribers_added: int
    articles_total: int
    categories_total: int
    subscribers_total: int


class Sample(Audience, Content):
    def load_sample(self) -> SampleResult:
        """Load the sample categories, articles and subscribers through the same paths as
        an import. Running it again adds nothing: articles are matched by URL and
        subscribers by address. A sample row that does not load is a bug in the shipped
        data, so the subscribers are imported strictly."""
        now = self.now()
        categories = json.loads(sample_path("categories.json").read_text(encoding="utf-8"))
        with self.store.transaction() as db:
            # Categories first, so they get their descriptions and the site's order.
            for category in categories:
                category_store.ensure_category(db, category["name"], category["description"])
        articles = articles_from_records(sample_records(now), source=SAMPLE_SOURCE, now=now)
        counts = article_store.upsert_articles(self.db, articles, now, source=SAMPLE_SOURCE)
        readers = self.import_subscribers(
            sample_path("subscribers.csv"), strict=True, source=SAMPLE_SOURCE
        )
        if readers.rejected:
            line, reason = readers.rejected[0]
            raise InputError(f"{sample_path('subscribers.csv')}: line {line}: {reason}")
        totals = article_store.totals(self.db)
        return SampleResult(
            articles_added=counts.added,
            subscribers_added=readers.added,
            articles_total=totals.articles,
            categories_total=totals.categories,
            subscribers_total=totals.subscribers,
        )
