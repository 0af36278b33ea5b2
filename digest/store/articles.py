"""Articles: insert-or-update by stable id, list newest first."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

import sqlite_utils

from digest.clock import from_db, to_db
from digest.models import Article, UpsertCounts
from digest.store.categories import ensure_category, find_category, resolve_categories
from digest.store.connection import transaction

_COLUMNS = "id, url, title, published_at, summary, body_html, author, image_url, image_alt"
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit


def content_hash(article: Article) -> str:
    """What decides "changed": everything an editor sees except the dates, so an undated
    entry (stamped with each import's time) does not count as changed on every import."""
    fields = [
        article.url,
        article.title,
        article.summary,
        article.body_html,
        article.author,
        article.image_url,
        article.image_alt,
        sorted(c.casefold() for c in article.categories),
    ]
    return hashlib.sha256(json.dumps(fields).encode("utf-8")).hexdigest()


def upsert_articles(
    db: sqlite_utils.Database, articles: Iterable[Article], now: datetime, source: str = ""
) -> UpsertCounts:
    """Add new articles and update changed ones, all in one transaction."""
    added = updated = unchanged = 0
    stamp = to_db(now)
    with transaction(db):
        for article in articles:
            digest_ = content_hash(article)
            row = db.execute(
                "SELECT content_hash FROM articles WHERE id = ?", [article.id]
            ).fetchone()
            if row is None:
                db.execute(
                    """
                    INSERT INTO articles (id, guid, url, title, summary, body_html, author,
                        image_url, image_alt, published_at, imported_at, updated_at,
                        content_hash, source)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        article.id,
                        article.guid,
                        article.url,
                        article.title,
                        article.summary,
                        article.body_html,
                        article.author,
                        article.image_url,
                        article.image_alt,
                        to_db(article.published_at),
                        stamp,
                        stamp,
                        digest_,
                        source,
                    ],
                )
                added += 1
            elif row[0] == digest_:
                unchanged += 1
                continue
            else:
                # published_at, imported_at and source stay as first recorded. Digests pick
                # articles by date and never send one twice; if an edit moved the date forward
                # the corrected article would reappear in the next edition as if it were new.
                db.execute(
                    """
                    UPDATE articles SET url = ?, title = ?, summary = ?, body_html = ?,
                        author = ?, image_url = ?, image_alt = ?, updated_at = ?,
                        content_hash = ?
                    WHERE id = ?
                    """,
                    [
                        article.url,
                        article.title,
                        article.summary,
                        article.body_html,
                        article.author,
                        article.image_url,
                        article.image_alt,
                        stamp,
                        digest_,
                        article.id,
                    ],
                )
                db.execute("DELETE FROM article_categories WHERE article_id = ?", [article.id])
                updated += 1
            for name in article.categories:
                db.execute(
                    "INSERT OR IGNORE INTO article_categories (article_id, category_id) "
                    "VALUES (?, ?)",
                    [article.id, ensure_category(db, name)],
                )
    return UpsertCounts(added, updated, unchanged)


def get_article(db: sqlite_utils.Database, article_id: str) -> Article | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM articles WHERE id = ?", [article_id]).fetchone()
    return _with_categories(db, [row])[0] if row else None


def list_articles(
    db: sqlite_utils.Database,
    category: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[Article]:
    """Articles newest first, optionally in one category (name or slug; unknown is an
    error) and published at or after ``since``."""
    where: list[str] = []
    params: list[Any] = []
    if category is not None:
        found = find_category(db, category) or resolve_categories(db, [category])[0]
        where.append("id IN (SELECT article_id FROM article_categories WHERE category_id = ?)")
        params.append(found.id)
    if since is not None:
        where.append("published_at >= ?")
        params.append(to_db(since))
    sql = f"SELECT {_COLUMNS} FROM articles"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY published_at DESC, id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return _with_categories(db, db.execute(sql, params).fetchall())


def count_articles(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])


class Totals(NamedTuple):
    articles: int
    categories: int
    subscribers: int


def totals(db: sqlite_utils.Database) -> Totals:
    row = db.execute(
        "SELECT (SELECT COUNT(*) FROM articles), (SELECT COUNT(*) FROM categories),"
        " (SELECT COUNT(*) FROM subscribers)"
    ).fetchone()
    return Totals(int(row[0]), int(row[1]), int(row[2]))


def _with_categories(db: sqlite_utils.Database, rows: list[Any]) -> list[Article]:
    names: dict[str, list[str]] = {row[0]: [] for row in rows}
    ids = list(names)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join("?" for _ in chunk)
        for article_id, name in db.execute(
            f"""
            SELECT ac.article_id, c.name FROM article_categories ac
            JOIN categories c ON c.id = ac.category_id
            WHERE ac.article_id IN ({marks}) ORDER BY c.position, c.name
            """,
            chunk,
        ):
            names[article_id].append(name)
    articles = []
    for row in rows:
        published = from_db(row[3])
        assert published is not None  # NOT NULL column
        articles.append(
            Article(
                id=row[0],
                url=row[1],
                title=row[2],
                published_at=published,
                summary=row[4],
                body_html=row[5],
                author=row[6],
                image_url=row[7],
                image_alt=row[8],
                categories=tuple(names[row[0]]),
            )
        )
    return articles
