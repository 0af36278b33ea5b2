"""A full disk or an I/O error during a write (#12): one line naming the database, nothing
half-written, and never "cannot rollback - no transaction is active". A full database is
simulated on a real file with SQLite's own PRAGMA max_page_count."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from digest.errors import StoreError
from digest.store import open_db, transaction
from tests.builders import NOW, app_for, make_db


def write_articles(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            record = {
                "url": f"https://news.example.com/a/{i}",
                "title": f"Article {i}",
                "published": "2026-11-26T12:00:00Z",
                "categories": ["Courts"],
                "summary": f"Summary {i} " + "x" * 2000,
            }
            out.write(json.dumps(record) + "\n")


def test_a_full_database_during_an_articles_import_is_one_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "full.db"
    db = make_db(path)
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + 20}")  # this connection only
    source = tmp_path / "many.jsonl"
    write_articles(source, 400)
    with pytest.raises(StoreError) as info:
        app_for(db, clock=lambda: NOW).import_articles(str(source))
    message = str(info.value)
    assert message == (
        f"{path}: the disk or the database is full; nothing of this change was written "
        "(free some space and try again)"
    )
    assert "\n" not in message and "rollback" not in message
    assert not db.conn.in_transaction
    assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 0
    # The connection is still usable for what fits.
    db.execute("INSERT INTO categories (slug, name) VALUES ('more', 'More')")
    db.close()
    reopened = open_db(path, create=False)
    assert reopened.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 0
    reopened.close()


def test_rollback_after_sqlite_rolled_back_itself_is_not_an_error(tmp_path: Path) -> None:
    db = make_db(tmp_path / "t.db")
    with pytest.raises(RuntimeError, match="boom"), transaction(db):
        db.execute("INSERT INTO categories (slug, name) VALUES ('a', 'A')")
        db.conn.execute("ROLLBACK")  # as SQLite does by itself on SQLITE_FULL
        raise RuntimeError("boom")
    assert not db.conn.in_transaction


def test_other_database_errors_pass_through_unchanged(tmp_path: Path) -> None:
    db = make_db(tmp_path / "t.db")
    with pytest.raises(sqlite3.IntegrityError), transaction(db):
        db.execute("INSERT INTO categories (slug, name) VALUES ('a', 'A')")
        db.execute("INSERT INTO categories (slug, name) VALUES ('a', 'B')")
    assert db.execute("SELECT COUNT(*) FROM categories WHERE slug = 'a'").fetchone()[0] == 0
    db.close()
