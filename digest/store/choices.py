"""SQL for the readers' own choices beyond categories and frequency: their timezone and a
pause. A paused reader stays active; an edition records their delivery as skipped."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from digest.clock import from_db, to_db


def set_timezone(db: sqlite_utils.Database, subscriber_id: int, timezone: str) -> bool:
    cursor = db.execute(
        "UPDATE subscribers SET timezone = ? WHERE id = ? AND timezone != ?",
        [timezone, subscriber_id, timezone],
    )
    return cursor.rowcount > 0


def set_paused_until(db: sqlite_utils.Database, subscriber_id: int, until: datetime | None) -> None:
    db.execute(
        "UPDATE subscribers SET paused_until = ? WHERE id = ?",
        [to_db(until) if until else None, subscriber_id],
    )


def paused_until(db: sqlite_utils.Database, subscriber_id: int) -> datetime | None:
    row = db.execute(
        "SELECT paused_until FROM subscribers WHERE id = ?", [subscriber_id]
    ).fetchone()
    return from_db(row[0]) if row else None


def skip_paused(db: sqlite_utils.Database, edition_id: int, now: datetime) -> int:
    """Mark the pending deliveries of readers paused at ``now`` as skipped, with the reason;
    how many (call in the transaction that creates the edition)."""
    cursor = db.execute(
        """
        UPDATE deliveries SET status = 'skipped', updated_at = ?,
            reply = 'paused until ' || substr(
                (SELECT paused_until FROM subscribers s WHERE s.id = deliveries.subscriber_id),
                1, 10)
        WHERE edition_id = ? AND status = 'pending' AND subscriber_id IN (
            SELECT id FROM subscribers WHERE paused_until > ?)
        """,
        [to_db(now), edition_id, to_db(now)],
    )
    return cursor.rowcount
