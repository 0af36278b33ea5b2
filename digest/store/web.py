"""SQL for the readers' web pages: sign-up rate limits, consent, and the public archive.

The archive is built only from what was actually sent: the union of ``deliveries.article_ids``
of an edition's sent deliveries. Nothing here returns a subscriber's address or name.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlite_utils

from digest.clock import from_db, to_db
from digest.models import ArchivedEdition, ArticleRow
from digest.store.editions import WORDS

# -- rate limits -----------------------------------------------------------------------------


def count_hits(db: sqlite_utils.Database, bucket: str, since: datetime) -> int:
    """How many hits ``bucket`` has had after ``since``."""
    row = db.execute(
        "SELECT COUNT(*) FROM web_rate_hits WHERE bucket = ? AND at > ?", [bucket, to_db(since)]
    ).fetchone()
    return int(row[0])


def add_hit(db: sqlite_utils.Database, bucket: str, at: datetime) -> None:
    db.execute("INSERT INTO web_rate_hits (bucket, at) VALUES (?, ?)", [bucket, to_db(at)])


def prune_hits(db: sqlite_utils.Database, before: datetime) -> None:
    """Forget hits older than the longest window: the table stays a few rows per sign-up."""
    db.execute("DELETE FROM web_rate_hits WHERE at <= ?", [to_db(before)])


# -- consent ---------------------------------------------------------------------------------


def set_consent_ip(db: sqlite_utils.Database, subscriber_id: int, ip: str) -> None:
    db.execute("UPDATE subscribers SET consent_ip = ? WHERE id = ?", [ip, subscriber_id])


def consent_ip(db: sqlite_utils.Database, subscriber_id: int) -> str:
    row = db.execute("SELECT consent_ip FROM subscribers WHERE id = ?", [subscriber_id]).fetchone()
    return str(row[0]) if row else ""


# -- archive ---------------------------------------------------------------------------------


def sent_editions(db: sqlite_utils.Database, *, limit: int = 200) -> list[ArchivedEdition]:
    """Editions with at least one sent message, newest first."""
    rows = db.execute(
        """
        SELECT e.id, e.frequency, e.period, e.starts_at, e.ends_at, MAX(d.updated_at)
        FROM editions e JOIN deliveries d ON d.edition_id = e.id AND d.status = 'sent'
        GROUP BY e.id ORDER BY e.ends_at DESC, e.id DESC LIMIT ?
        """,
        [limit],
    ).fetchall()
    return [_archived(r) for r in rows]


def sent_edition(db: sqlite_utils.Database, edition_id: int) -> ArchivedEdition | None:
    row = db.execute(
        """
        SELECT e.id, e.frequency, e.period, e.starts_at, e.ends_at, MAX(d.updated_at)
        FROM editions e JOIN deliveries d ON d.edition_id = e.id AND d.status = 'sent'
        WHERE e.id = ? GROUP BY e.id
        """,
        [edition_id],
    ).fetchone()
    return _archived(row) if row else None


def _archived(row: tuple[object, ...]) -> ArchivedEdition:
    times = [from_db(str(row[i])) for i in (3, 4, 5)]
    starts_at, ends_at, sent_at = (t for t in times if t is not None)
    return ArchivedEdition(
        id=int(str(row[0])),
        frequency=str(row[1]),
        period=str(row[2]),
        starts_at=starts_at,
        ends_at=ends_at,
        sent_at=sent_at,
    )


def sent_articles(db: sqlite_utils.Database, edition_id: int) -> list[ArticleRow]:
    """Every article sent in the edition, once per category it was sent under (a category
    of the article that was also one of the recipient's at the time, from the delivery's
    ``group_key``), newest first. Deliveries are first reduced to their distinct variants:
    an edition of a million readers has only a handful."""
    rows = db.execute(
        """
        WITH variants AS (
            SELECT DISTINCT group_key, article_ids FROM deliveries
            WHERE edition_id = ? AND status = 'sent'
        ),
        pairs AS (
            SELECT DISTINCT j.value AS article_id, v.group_key
            FROM variants v, json_each(v.article_ids) j
        )
        SELECT DISTINCT a.id, a.url, a.title, a.summary, a.author, a.image_url, a.image_alt,
            a.published_at, ac.category_id
        FROM pairs p
        JOIN articles a ON a.id = p.article_id
        JOIN article_categories ac ON ac.article_id = a.id
        WHERE instr(',' || p.group_key || ',', ',' || ac.category_id || ',') > 0
        ORDER BY a.published_at DESC, a.id
        """,
        [edition_id],
    ).fetchall()
    return [ArticleRow(*r) for r in rows]


# -- one reader's copy ("View in browser") --------------------------------------------------


def delivered_copy(
    db: sqlite_utils.Database, edition_id: int, subscriber_id: int
) -> tuple[tuple[int, ...], tuple[str, ...]] | None:
    """(category ids, article ids in the message's order) of the digest the reader was
    sent in the edition; None when no digest of that edition was sent to them."""
    row = db.execute(
        "SELECT group_key, article_ids FROM deliveries"
        " WHERE edition_id = ? AND subscriber_id = ? AND status = 'sent'",
        [edition_id, subscriber_id],
    ).fetchone()
    if row is None:
        return None
    categories = tuple(int(c) for c in str(row[0]).split(",") if c.strip())
    return categories, tuple(json.loads(row[1]))


def articles_by_ids(db: sqlite_utils.Database, article_ids: tuple[str, ...]) -> list[ArticleRow]:
    """The articles named, one row per (article, category), newest first, with the count
    of words of their body (for the reading time)."""
    rows = db.execute(
        f"""
        SELECT a.id, a.url, a.title, a.summary, a.author, a.image_url, a.image_alt,
            a.published_at, ac.category_id, MAX(a.published_at, a.imported_at), {WORDS}
        FROM articles a JOIN article_categories ac ON ac.article_id = a.id
        WHERE a.id IN (SELECT value FROM json_each(?))
        ORDER BY a.published_at DESC, a.id
        """,
        [json.dumps(list(article_ids))],
    ).fetchall()
    return [ArticleRow(*r) for r in rows]
