"""digest.store.tracking against a real SQLite file: counts name nobody, reader rows go with
forget()."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from digest.store import open_db, tracking
from digest.store import subscribers as subscribers_store
from digest.store.categories import ensure_category

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    database = open_db(tmp_path / "test.db")
    ensure_category(database, "Courts")
    return database


def reader(db: sqlite_utils.Database, email: str) -> int:
    return subscribers_store.insert_subscriber(
        db, subscribers_store.NewSubscriber(email=email, status="active", source="test"), NOW
    )


def test_anonymous_clicks_are_counts_without_a_reader(db: sqlite_utils.Database) -> None:
    for scanner in (False, False, True):
        tracking.record_click(
            db, edition_id=1, article_id="a1", category_id=1, scanner=scanner, now=NOW
        )
    assert tracking.edition_clicks(db, 1) == [tracking.ClickCount("a1", 1, 2, 1, None)]
    assert db.execute("SELECT COUNT(*) FROM reader_clicks").fetchone() == (0,)


def test_per_reader_clicks_and_opens_count_distinct_readers(db: sqlite_utils.Database) -> None:
    ana, ben = reader(db, "ana@example.com"), reader(db, "ben@example.com")
    for who in (ana, ana, ben):
        tracking.record_click(
            db,
            edition_id=1,
            article_id="a1",
            category_id=1,
            scanner=False,
            now=NOW,
            subscriber_id=who,
        )
        tracking.record_open(db, edition_id=1, scanner=False, now=NOW, subscriber_id=who)
    assert tracking.edition_clicks(db, 1) == [tracking.ClickCount("a1", 1, 3, 0, 2)]
    assert tracking.edition_opens(db, 1) == tracking.OpenCount(3, 0, 2)
    assert tracking.edition_opens(db, 2) == tracking.OpenCount(0, 0, None)


def test_forget_erases_who_clicked_but_keeps_the_counts(db: sqlite_utils.Database) -> None:
    ana = reader(db, "ana@example.com")
    tracking.record_click(
        db,
        edition_id=1,
        article_id="a1",
        category_id=1,
        scanner=False,
        now=NOW,
        subscriber_id=ana,
    )
    tracking.record_open(db, edition_id=1, scanner=False, now=NOW, subscriber_id=ana)
    subscribers_store.forget(db, ana, NOW, "test")
    assert db.execute("SELECT COUNT(*) FROM reader_clicks").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM reader_opens").fetchone() == (0,)
    assert tracking.edition_clicks(db, 1) == [tracking.ClickCount("a1", 1, 1, 0, None)]
