"""Sample data for trying digest out: articles for "Legal Reader" and a few subscribers.

``articles.jsonl`` stores each article's age (``age_hours``) instead of a date, so a sample
loaded today has several articles from the last day and some older than a weekly look-back.
The articles go through the same ingest and store code as `digest articles import`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import sqlite_utils

from digest.errors import InputError
from digest.ingest import articles_from_records
from digest.store import transaction
from digest.store.articles import count_articles, upsert_articles
from digest.store.categories import ensure_category

SOURCE = "sample"


@dataclass(frozen=True)
class SampleResult:
    articles_added: int
    subscribers_added: int
    articles_total: int
    categories_total: int
    subscribers_total: int


def sample_path(name: str) -> Path:
    """A sample data file shipped inside the package."""
    return Path(str(resources.files("digest.sample").joinpath(name)))


def load_sample(db: sqlite_utils.Database, now: datetime) -> SampleResult:
    """Load the sample categories, articles and subscribers. Running it again adds nothing:
    articles are matched by URL and subscribers by address."""
    # Imported here: digest.subscribers is only needed when someone asks for the sample.
    from digest.subscribers import import_subscribers_csv

    categories = json.loads(sample_path("categories.json").read_text(encoding="utf-8"))
    with transaction(db):
        # Categories first, so they get their descriptions and the site's order.
        for category in categories:
            ensure_category(db, category["name"], category["description"])
    articles = articles_from_records(sample_records(now), source=SOURCE, now=now)
    counts = upsert_articles(db, articles, now, source=SOURCE)
    # strict: a sample row that does not import is a bug in the shipped data, not a warning.
    subscribers = import_subscribers_csv(
        db, sample_path("subscribers.csv"), now=now, strict=True, source=SOURCE
    )
    if subscribers.rejected:
        line, reason = subscribers.rejected[0]
        raise InputError(f"{sample_path('subscribers.csv')}: line {line}: {reason}")
    return SampleResult(
        articles_added=counts.added,
        subscribers_added=subscribers.added,
        articles_total=count_articles(db),
        categories_total=int(db.execute("SELECT COUNT(*) FROM categories").fetchone()[0]),
        subscribers_total=int(db.execute("SELECT COUNT(*) FROM subscribers").fetchone()[0]),
    )


def sample_records(now: datetime) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The sample articles as ingest records, each dated ``age_hours`` before ``now``."""
    path = sample_path("articles.jsonl")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = dict(json.loads(line))
        age = record.pop("age_hours", None)
        if not isinstance(age, int | float):
            raise InputError(f"{path.name}:{number}: field 'age_hours': expected a number")
        record["published"] = (now - timedelta(hours=age)).isoformat()
        yield f"{path.name}:{number}", record
