"""digest.sample: the Legal Reader sample loads through ingest, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.sample import sample_records
from digest.store import open_db
from digest.store.articles import list_articles
from digest.store.categories import list_categories
from tests.builders import app_for

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def test_sample_loads_once(tmp_path: Path) -> None:
    db = open_db(tmp_path / "digest.db")
    first = app_for(db, clock=lambda: NOW).load_sample()
    assert first.articles_added >= 40
    assert first.articles_total == first.articles_added
    assert first.categories_total >= 6
    # Every shipped row imports: the sample is loaded strictly.
    assert first.subscribers_added == 25
    assert first.subscribers_total >= first.subscribers_added
    again = app_for(db, clock=lambda: NOW + timedelta(hours=5)).load_sample()
    assert again.articles_added == 0
    assert again.subscribers_added == 0
    assert again.articles_total == first.articles_total
    assert again.subscribers_total == first.subscribers_total
    # Reloading later keeps the first load's dates.
    assert list_articles(db)[0].published_at <= NOW


def test_sample_articles_are_spread_over_days(tmp_path: Path) -> None:
    db = open_db(tmp_path / "digest.db")
    app_for(db, clock=lambda: NOW).load_sample()
    articles = list_articles(db)
    last_day = [a for a in articles if a.published_at >= NOW - timedelta(days=1)]
    older_than_a_week = [a for a in articles if a.published_at < NOW - timedelta(days=7)]
    assert len(last_day) >= 5
    assert len(older_than_a_week) >= 5
    assert max(NOW - a.published_at for a in articles) <= timedelta(days=12)
    assert sum(1 for a in articles if a.author) >= len(articles) // 2
    with_images = [a for a in articles if a.image_url]
    assert with_images and all(
        a.image_url.startswith("https://") and a.image_alt for a in with_images
    )
    assert any("&" in a.title for a in articles)
    assert any('"' in a.title for a in articles)


def test_every_category_has_a_description_and_articles(tmp_path: Path) -> None:
    db = open_db(tmp_path / "digest.db")
    app_for(db, clock=lambda: NOW).load_sample()
    categories = list_categories(db)
    assert len(categories) >= 6
    assert all(c.description for c in categories)
    assert all(c.article_count >= 5 for c in categories)


def test_sample_records_are_dated_from_now() -> None:
    where, record = next(iter(sample_records(NOW)))
    assert where == "articles.jsonl:1"
    assert "age_hours" not in record
    assert datetime.fromisoformat(record["published"]) < NOW
