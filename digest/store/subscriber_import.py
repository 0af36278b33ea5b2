"""Bulk subscriber import: the SQL that stages a parsed file and applies it set-based.

Rows are staged in a TEMP table while the file is parsed (no lock on the main database, so
sign-ups keep working during a long parse), then classified and applied with a handful of
set-based statements inside the caller's transaction: a million rows cost a few seconds of
SQLite time instead of a million Python round trips (docs/performance.md, Import).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from digest.clock import to_db
from digest.store.subscribers import SUPPRESSED_SQL, email_hash

_STAGING = "temp.subscriber_import"


@dataclass(frozen=True)
class StagedRow:
    """One valid import row. None means "not given": keep the existing value, or use the
    default for a new subscriber. ``category_ids`` None likewise keeps their categories."""

    line: int
    email: str
    name: str | None
    frequency: str | None
    timezone: str | None
    category_ids: tuple[int, ...] | None
    status: str = "active"  # active or pending, for new subscribers
    language: str | None = None  # "" is the site's language
    delivery_day: str | None = None  # "" is the site's weekly day


@dataclass(frozen=True)
class ImportPlan:
    """What staging found before anything is written."""

    duplicates: tuple[tuple[int, int], ...]  # (superseded line, line that wins)
    suppressed: tuple[tuple[int, str], ...]  # (line, address)
    missing_categories: tuple[tuple[int, str], ...]  # new addresses with no categories


@dataclass(frozen=True)
class ImportCounts:
    added: int
    updated: int
    unchanged: int


def begin_import(db: sqlite_utils.Database) -> None:
    """Create (or empty) the staging table for one import on this connection."""
    db.execute(f"DROP TABLE IF EXISTS {_STAGING}")
    db.execute(
        f"""
        CREATE TABLE {_STAGING} (
            line INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            hash TEXT NOT NULL,
            name TEXT,
            frequency TEXT,
            timezone TEXT,
            language TEXT,
            delivery_day TEXT,
            cats TEXT,              -- JSON array of category ids in the subscriber's order
            want_status TEXT NOT NULL,
            sub_id INTEGER,
            old_status TEXT,
            changed INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute(f"CREATE INDEX {_STAGING}_hash ON subscriber_import (hash, line)")


def stage_rows(db: sqlite_utils.Database, rows: Iterable[StagedRow]) -> None:
    """Add a batch of parsed rows to the staging table (one executemany)."""
    db.conn.executemany(
        f"INSERT INTO {_STAGING} (line, email, hash, name, frequency, timezone, language, "
        "delivery_day, cats, want_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.line,
                r.email,
                email_hash(r.email),
                r.name,
                r.frequency,
                r.timezone,
                r.language,
                r.delivery_day,
                None if r.category_ids is None else _json_ids(r.category_ids),
                r.status,
            )
            for r in rows
        ],
    )


def _json_ids(ids: Sequence[int]) -> str:
    # Same spelling as SQLite's json_group_array, so the two compare equal as text.
    return "[" + ",".join(str(i) for i in ids) + "]"


def plan_import(db: sqlite_utils.Database) -> ImportPlan:
    """Resolve staged rows against the database: drop earlier duplicates (the last row for
    an address wins), suppressed addresses and new addresses without categories, and
    report each. Call inside the transaction that will apply the import."""
    duplicates: list[tuple[int, int]] = []
    previous_hash, lines = "", list[int]()
    for line, hash_ in db.execute(
        f"SELECT line, hash FROM {_STAGING} WHERE hash IN (SELECT hash FROM {_STAGING} "
        "GROUP BY hash HAVING COUNT(*) > 1) ORDER BY hash, line"
    ):
        if hash_ != previous_hash:
            duplicates.extend((earlier, lines[-1]) for earlier in lines[:-1])
            previous_hash, lines = hash_, []
        lines.append(line)
    duplicates.extend((earlier, lines[-1]) for earlier in lines[:-1])
    duplicates.sort()
    db.conn.executemany(
        f"DELETE FROM {_STAGING} WHERE line = ?", [(line,) for line, _ in duplicates]
    )
    db.execute(
        f"UPDATE {_STAGING} SET sub_id = s.id, old_status = s.status "
        "FROM subscribers s WHERE s.email_hash = subscriber_import.hash"
    )
    suppressed = db.execute(
        f"SELECT line, email FROM {_STAGING} WHERE old_status IN ({SUPPRESSED_SQL}) ORDER BY line"
    ).fetchall()
    db.execute(f"DELETE FROM {_STAGING} WHERE old_status IN ({SUPPRESSED_SQL})")
    missing = db.execute(
        f"SELECT line, email FROM {_STAGING} WHERE sub_id IS NULL AND cats IS NULL ORDER BY line"
    ).fetchall()
    db.execute(f"DELETE FROM {_STAGING} WHERE sub_id IS NULL AND cats IS NULL")
    return ImportPlan(
        duplicates=tuple(duplicates),
        suppressed=tuple((int(r[0]), str(r[1])) for r in suppressed),
        missing_categories=tuple((int(r[0]), str(r[1])) for r in missing),
    )


def apply_import(db: sqlite_utils.Database, now: datetime, source: str) -> ImportCounts:
    """Write the planned rows: update changed subscribers, insert new ones, replace
    subscriptions and record events. Existing subscribers keep their status, except that
    a pending one is confirmed by an 'active' row (the operator vouches for consent)."""
    at = to_db(now)
    db.execute(
        f"""
        UPDATE {_STAGING} SET changed = 1 WHERE sub_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM subscribers s WHERE s.id = subscriber_import.sub_id AND (
                s.email IS NOT subscriber_import.email
                OR s.name IS NOT COALESCE(subscriber_import.name, s.name)
                OR s.frequency IS NOT COALESCE(subscriber_import.frequency, s.frequency)
                OR s.timezone IS NOT COALESCE(subscriber_import.timezone, s.timezone)
                OR s.language IS NOT COALESCE(subscriber_import.language, s.language)
                OR s.delivery_day IS NOT
                    COALESCE(subscriber_import.delivery_day, s.delivery_day)
                OR (s.status = 'pending' AND subscriber_import.want_status = 'active')
                OR (subscriber_import.cats IS NOT NULL AND subscriber_import.cats IS NOT (
                    SELECT json_group_array(category_id) FROM (
                        SELECT category_id FROM subscriptions
                        WHERE subscriber_id = s.id ORDER BY position)))))
        """
    )
    db.execute(
        f"""
        INSERT INTO events (subscriber_id, kind, at, source, detail)
        SELECT sub_id, 'confirmed', ?, ?, '' FROM {_STAGING}
        WHERE changed = 1 AND old_status = 'pending' AND want_status = 'active'
        """,
        [at, source],
    )
    db.execute(
        f"""
        UPDATE subscribers SET
            email = i.email,
            name = COALESCE(i.name, subscribers.name),
            frequency = COALESCE(i.frequency, subscribers.frequency),
            timezone = COALESCE(i.timezone, subscribers.timezone),
            language = COALESCE(i.language, subscribers.language),
            delivery_day = COALESCE(i.delivery_day, subscribers.delivery_day),
            status = CASE WHEN subscribers.status = 'pending' AND i.want_status = 'active'
                THEN 'active' ELSE subscribers.status END,
            confirmed_at = CASE WHEN subscribers.status = 'pending' AND i.want_status = 'active'
                THEN COALESCE(subscribers.confirmed_at, ?) ELSE subscribers.confirmed_at END
        FROM {_STAGING} i WHERE i.sub_id = subscribers.id AND i.changed = 1
        """,
        [at],
    )
    db.execute(
        f"DELETE FROM subscriptions WHERE subscriber_id IN "
        f"(SELECT sub_id FROM {_STAGING} WHERE changed = 1 AND cats IS NOT NULL)"
    )
    counts = db.execute(
        f"SELECT COALESCE(SUM(changed), 0), COALESCE(SUM(sub_id IS NOT NULL AND changed = 0), 0)"
        f" FROM {_STAGING}"
    ).fetchone()
    db.execute(
        f"""
        INSERT INTO subscribers (email, email_hash, name, status, frequency, timezone,
            language, delivery_day, created_at, confirmed_at, source)
        SELECT email, hash, COALESCE(name, ''), want_status, COALESCE(frequency, 'weekly'),
            COALESCE(timezone, 'UTC'), COALESCE(language, ''), COALESCE(delivery_day, ''), ?,
            CASE want_status WHEN 'active' THEN ? END, ?
        FROM {_STAGING} WHERE sub_id IS NULL ORDER BY line
        """,
        [at, at, source],
    )
    # Mark the new rows (changed = 2) so subscriptions and events can be written for them.
    added = db.execute(
        f"UPDATE {_STAGING} SET sub_id = s.id, changed = 2 FROM subscribers s "
        "WHERE s.email_hash = subscriber_import.hash AND subscriber_import.sub_id IS NULL"
    ).rowcount
    db.execute(
        f"""
        INSERT OR IGNORE INTO subscriptions (subscriber_id, category_id, position)
        SELECT i.sub_id, j.value, j.key FROM {_STAGING} i, json_each(i.cats) j
        WHERE i.changed > 0 AND i.cats IS NOT NULL
        """
    )
    db.execute(
        f"""
        INSERT INTO events (subscriber_id, kind, at, source, detail)
        SELECT sub_id, CASE changed WHEN 2 THEN
                CASE want_status WHEN 'active' THEN 'subscribed' ELSE 'pending' END
            ELSE 'updated' END, ?, ?, ''
        FROM {_STAGING} WHERE changed > 0 ORDER BY line
        """,
        [at, source],
    )
    return ImportCounts(added=added, updated=int(counts[0]), unchanged=int(counts[1]))


def end_import(db: sqlite_utils.Database) -> None:
    db.execute(f"DROP TABLE IF EXISTS {_STAGING}")
