"""SQL for the HTTP API: its keys (only hashes of their secrets), and pages of articles read
by keyset (a cursor names the last row seen, so a page never skips or repeats a row when
articles arrive between two requests)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import sqlite_utils

from digest.clock import from_db, to_db
from digest.errors import InputError
from digest.models import ApiKey, ApiScope, Article
from digest.store.articles import get_article
from digest.store.connection import named

_KEY_COLUMNS = "id, name, prefix, secret_hash, scope, created_at, last_used_at, revoked_at"


def insert_key(
    db: sqlite_utils.Database,
    name: str,
    prefix: str,
    secret_hash: str,
    scope: ApiScope,
    now: datetime,
) -> None:
    try:
        db.execute(
            "INSERT INTO api_keys (name, prefix, secret_hash, scope, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [name, prefix, secret_hash, str(scope), to_db(now)],
        )
    except sqlite3.IntegrityError as e:
        raise InputError(
            f"API key {name!r}: the name is taken (names of revoked keys are kept too)"
        ) from e


def key_by_prefix(db: sqlite_utils.Database, prefix: str) -> ApiKey | None:
    row = named(db, f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE prefix = ?", [prefix]).fetchone()
    return _key(row) if row else None


def list_keys(db: sqlite_utils.Database) -> list[ApiKey]:
    rows = named(db, f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY name").fetchall()
    return [_key(r) for r in rows]


def revoke_key(db: sqlite_utils.Database, name: str, now: datetime) -> bool:
    """False when there is no live key of that name."""
    cursor = db.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
        [to_db(now), name],
    )
    return cursor.rowcount > 0


def touch_key(db: sqlite_utils.Database, key_id: int, now: datetime) -> None:
    db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [to_db(now), key_id])


def _key(row: sqlite3.Row) -> ApiKey:
    created = from_db(row["created_at"])
    assert created is not None  # NOT NULL column
    return ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        secret_hash=row["secret_hash"],
        scope=ApiScope(row["scope"]),
        created_at=created,
        last_used_at=from_db(row["last_used_at"]),
        revoked_at=from_db(row["revoked_at"]),
    )


def article_page(
    db: sqlite_utils.Database,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    category_id: int | None = None,
) -> list[Article]:
    """Up to ``limit`` articles newest first (published_at DESC, id), after the row
    ``after`` names (its published time and id)."""
    where: list[str] = []
    params: list[object] = []
    if after is not None:
        where.append("(published_at < ? OR (published_at = ? AND id > ?))")
        published = to_db(after[0])
        params += [published, published, after[1]]
    if category_id is not None:
        where.append("id IN (SELECT article_id FROM article_categories WHERE category_id = ?)")
        params.append(category_id)
    sql = "SELECT id FROM articles"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY published_at DESC, id LIMIT ?"
    params.append(limit)
    ids = [str(r[0]) for r in db.execute(sql, params).fetchall()]
    found = (get_article(db, i) for i in ids)
    return [a for a in found if a is not None]


def oldest_hit(db: sqlite_utils.Database, bucket: str, since: datetime) -> datetime | None:
    row = db.execute(
        "SELECT MIN(at) FROM web_rate_hits WHERE bucket = ? AND at > ?", [bucket, to_db(since)]
    ).fetchone()
    return from_db(row[0]) if row else None
