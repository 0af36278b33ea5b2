"""digest.store.articles: idempotent upserts that never move an article's dates."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from digest.errors import NotFoundError
from digest.models import Article
from digest.store import open_db
from digest.store.articles import get_article, list_articles, upsert_articles

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "digest.db")


def make(n: int, **changes: object) -> Article:
    article = Article(
        id=f"a{n}",
        url=f"https://news.example.com/{n}",
        title=f"Article {n}",
        published_at=NOW - timedelta(days=n),
        categories=("Courts",),
        summary=f"Summary {n}",
        body_html=f"<p>Body {n}</p>",
    )
    return dataclasses.replace(article, **changes)  # type: ignore[arg-type]


def test_insert_then_reimport_adds_nothing(db: sqlite_utils.Database) -> None:
    articles = [make(1), make(2, categories=("Courts", "Opioid Drugs"))]
    assert upsert_articles(db, articles, NOW, source="feed.xml") == (2, 0, 0)
    assert upsert_articles(db, articles, NOW + timedelta(hours=1), "feed.xml") == (0, 0, 2)
    assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 2
    assert db.execute("SELECT COUNT(*) FROM article_categories").fetchone()[0] == 3
    assert list_articles(db) == articles


def test_changed_entry_is_updated_and_keeps_its_dates(db: sqlite_utils.Database) -> None:
    upsert_articles(db, [make(1)], NOW, source="feed.xml")
    later = NOW + timedelta(days=2)
    edited = make(
        1, title="Article 1 (corrected)", published_at=later, categories=("Opioid Drugs",)
    )
    assert upsert_articles(db, [edited], later, source="other.xml") == (0, 1, 0)
    [stored] = list_articles(db)
    assert stored.title == "Article 1 (corrected)"
    assert stored.categories == ("Opioid Drugs",)
    # The original publication date stays, so the digest does not send it again as new.
    assert stored.published_at == make(1).published_at
    row = db.execute(
        "SELECT imported_at, updated_at, source FROM articles WHERE id = 'a1'"
    ).fetchone()
    assert row == ("2026-11-28T08:00:00Z", "2026-11-30T08:00:00Z", "feed.xml")


def test_only_the_date_changing_is_not_a_change(db: sqlite_utils.Database) -> None:
    # An undated feed entry gets each import's time; that must not count as an edit.
    upsert_articles(db, [make(1)], NOW, "feed.xml")
    assert upsert_articles(db, [make(1, published_at=NOW)], NOW, "feed.xml") == (0, 0, 1)


def test_category_names_match_case_insensitively(db: sqlite_utils.Database) -> None:
    upsert_articles(db, [make(1, categories=("Opioid Drugs",))], NOW, "a")
    upsert_articles(db, [make(2, categories=("opioid drugs",))], NOW, "b")
    assert db.execute("SELECT name FROM categories").fetchall() == [("Opioid Drugs",)]
    assert [a.categories for a in list_articles(db)] == [("Opioid Drugs",), ("Opioid Drugs",)]


def test_failed_batch_writes_nothing(db: sqlite_utils.Database) -> None:
    class Boom(Exception):
        pass

    def articles() -> object:
        yield make(1)
        raise Boom

    with pytest.raises(Boom):
        upsert_articles(db, articles(), NOW, "x")  # type: ignore[arg-type]
    assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 0


def test_list_filters(db: sqlite_utils.Database) -> None:
    upsert_articles(
        db,
        [make(1), make(2, categories=("Environmental",)), make(3), make(9)],
        NOW,
        "x",
    )
    assert [a.id for a in list_articles(db)] == ["a1", "a2", "a3", "a9"]
    assert [a.id for a in list_articles(db, category="courts")] == ["a1", "a3", "a9"]
    assert [a.id for a in list_articles(db, since=NOW - timedelta(days=3))] == [
        "a1",
        "a2",
        "a3",
    ]
    assert [a.id for a in list_articles(db, category="Courts", limit=1)] == ["a1"]
    with pytest.raises(NotFoundError) as info:
        list_articles(db, category="Sports")
    assert str(info.value) == "unknown category 'Sports' (known: Courts, Environmental)"


def test_get_article(db: sqlite_utils.Database) -> None:
    upsert_articles(db, [make(1)], NOW, "x")
    assert get_article(db, "a1") == make(1)
    assert get_article(db, "nope") is None


def test_the_feed_guid_is_kept(tmp_path: Path) -> None:
    from digest.ingest import load_source

    db = open_db(tmp_path / "a.db")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    fixture = Path(__file__).parent / "fixtures" / "articles" / "atom.xml"
    articles = load_source(str(fixture), now=now)
    upsert_articles(db, articles, now)
    stored = dict(db.execute("SELECT id, guid FROM articles").fetchall())
    assert stored == {a.id: a.guid for a in articles}
    assert all(stored.values())  # every Atom entry has an id
