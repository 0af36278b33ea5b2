"""SQL for engagement tracking (issue 15, docs/tracking.md): clicks and opens.

Every recorded click or open adds one to a count keyed by edition (and article and category
for clicks) that names no reader; in "per-reader" mode the caller also passes the reader, and
one row naming them is written in the same transaction. Reads for the reports are here too.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlite_utils

from digest.clock import from_db, to_db
from digest.store.connection import transaction


def record_click(
    db: sqlite_utils.Database,
    *,
    edition_id: int,
    article_id: str,
    category_id: int,
    scanner: bool,
    now: datetime,
    subscriber_id: int | None = None,
) -> None:
    """Count one click; with ``subscriber_id`` (per-reader mode) also say who clicked."""
    with transaction(db):
        db.execute(
            """
            INSERT INTO click_counts (edition_id, article_id, category_id, scanner, clicks)
            VALUES (?, ?, ?, ?, 1)
            ON CONFLICT (edition_id, article_id, category_id, scanner)
            DO UPDATE SET clicks = clicks + 1
            """,
            [edition_id, article_id, category_id, int(scanner)],
        )
        if subscriber_id is not None:
            db.execute(
                "INSERT INTO reader_clicks"
                " (edition_id, article_id, category_id, subscriber_id, at, scanner)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [edition_id, article_id, category_id, subscriber_id, to_db(now), int(scanner)],
            )


def record_open(
    db: sqlite_utils.Database,
    *,
    edition_id: int,
    scanner: bool,
    now: datetime,
    subscriber_id: int | None = None,
) -> None:
    """Count one open (image fetch); with ``subscriber_id`` also say whose."""
    with transaction(db):
        db.execute(
            """
            INSERT INTO open_counts (edition_id, scanner, opens) VALUES (?, ?, 1)
            ON CONFLICT (edition_id, scanner) DO UPDATE SET opens = opens + 1
            """,
            [edition_id, int(scanner)],
        )
        if subscriber_id is not None:
            db.execute(
                "INSERT INTO reader_opens (edition_id, subscriber_id, at, scanner)"
                " VALUES (?, ?, ?, ?)",
                [edition_id, subscriber_id, to_db(now), int(scanner)],
            )


class ClickCount(NamedTuple):
    article_id: str
    category_id: int
    clicks: int
    scanner_clicks: int
    readers: int | None  # distinct clicking readers; None unless per-reader rows exist


def edition_clicks(db: sqlite_utils.Database, edition_id: int) -> list[ClickCount]:
    """Clicks on an edition's links, per article and category, people and scanners apart."""
    rows = db.execute(
        """
        SELECT c.article_id, c.category_id,
            SUM(CASE WHEN c.scanner = 0 THEN c.clicks ELSE 0 END),
            SUM(CASE WHEN c.scanner = 1 THEN c.clicks ELSE 0 END),
            (SELECT COUNT(DISTINCT r.subscriber_id) FROM reader_clicks r
             WHERE r.edition_id = c.edition_id AND r.article_id = c.article_id
                AND r.category_id = c.category_id AND r.scanner = 0)
        FROM click_counts c WHERE c.edition_id = ?
        GROUP BY c.article_id, c.category_id ORDER BY c.category_id, c.article_id
        """,
        [edition_id],
    ).fetchall()
    return [
        ClickCount(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]) if r[4] else None)
        for r in rows
    ]


class OpenCount(NamedTuple):
    opens: int
    scanner_opens: int
    readers: int | None  # distinct readers; None unless per-reader rows exist


def edition_opens(db: sqlite_utils.Database, edition_id: int) -> OpenCount:
    row = db.execute(
        """
        SELECT COALESCE(SUM(CASE WHEN scanner = 0 THEN opens ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN scanner = 1 THEN opens ELSE 0 END), 0),
            (SELECT COUNT(DISTINCT subscriber_id) FROM reader_opens
             WHERE edition_id = ? AND scanner = 0)
        FROM open_counts WHERE edition_id = ?
        """,
        [edition_id, edition_id],
    ).fetchone()
    return OpenCount(int(row[0]), int(row[1]), int(row[2]) if row[2] else None)


# -- what the redirect needs to know (digest/app/tracking.py) --------------------------------


def reader_trackable(db: sqlite_utils.Database, subscriber_id: int) -> bool:
    """Whether clicks may be recorded as this reader's: they exist and were not forgotten
    (a link in an old message must not bring a forgotten reader back into the tables)."""
    row = db.execute("SELECT status FROM subscribers WHERE id = ?", [subscriber_id]).fetchone()
    return row is not None and row[0] != "forgotten"


def delivered_at(db: sqlite_utils.Database, edition_id: int, subscriber_id: int) -> datetime | None:
    """When the relay accepted this reader's message of the edition (None if it did not)."""
    row = db.execute(
        "SELECT updated_at FROM deliveries"
        " WHERE edition_id = ? AND subscriber_id = ? AND status = 'sent'",
        [edition_id, subscriber_id],
    ).fetchone()
    return from_db(row[0]) if row else None


def recount_as_scanner(
    db: sqlite_utils.Database,
    *,
    edition_id: int,
    links: list[tuple[str, int]],
    since: datetime,
    subscriber_id: int | None = None,
) -> None:
    """Clicks already counted as a reader's, on ``links`` ((article id, category id) pairs),
    turned out to be part of a scanner's burst: move one count each to the scanner side, and
    in per-reader mode mark the reader's rows since ``since``."""
    with transaction(db):
        for article_id, category_id in links:
            moved = db.execute(
                "UPDATE click_counts SET clicks = clicks - 1 WHERE edition_id = ?"
                " AND article_id = ? AND category_id = ? AND scanner = 0 AND clicks > 0",
                [edition_id, article_id, category_id],
            ).rowcount
            if not moved:
                continue
            db.execute(
                """
                INSERT INTO click_counts (edition_id, article_id, category_id, scanner, clicks)
                VALUES (?, ?, ?, 1, 1)
                ON CONFLICT (edition_id, article_id, category_id, scanner)
                DO UPDATE SET clicks = clicks + 1
                """,
                [edition_id, article_id, category_id],
            )
            if subscriber_id is not None:
                db.execute(
                    "UPDATE reader_clicks SET scanner = 1 WHERE edition_id = ? AND"
                    " subscriber_id = ? AND article_id = ? AND category_id = ? AND scanner = 0"
                    " AND at >= ?",
                    [edition_id, subscriber_id, article_id, category_id, to_db(since)],
                )


def article_url(db: sqlite_utils.Database, article_id: str) -> str | None:
    """The URL a click on ``article_id`` leads to, None when there is no such article."""
    row = db.execute("SELECT url FROM articles WHERE id = ?", [article_id]).fetchone()
    return str(row[0]) if row else None


def edition_click_readers(db: sqlite_utils.Database, edition_id: int) -> dict[int | None, int]:
    """Distinct clicking readers (people, not scanners) of an edition, per category and in
    all (key None); empty unless per-reader rows exist. For the reports (docs/reports.md)."""
    rows = db.execute(
        """
        SELECT NULL, COUNT(DISTINCT subscriber_id) FROM reader_clicks
        WHERE edition_id = :e AND scanner = 0
        UNION ALL
        SELECT category_id, COUNT(DISTINCT subscriber_id) FROM reader_clicks
        WHERE edition_id = :e AND scanner = 0 GROUP BY category_id
        """,
        {"e": edition_id},
    ).fetchall()
    return {(int(r[0]) if r[0] is not None else None): int(r[1]) for r in rows if r[1]}
