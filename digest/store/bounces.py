"""Bounces, complaints and processed bounce messages: all the SQL for them.

A ``bounces`` row is one failure or complaint we learned of, at SMTP time (origin 'smtp') or
from an imported report (origin: the file). Status changes themselves go through
:func:`digest.store.subscribers.set_status`, so they are events as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlite_utils

from digest.clock import to_db
from digest.models import BounceRecord

# A reply whose RFC 3463 code is X.7.Y: policy or authentication, the sender's problem.
# An SMTP-time give-up (4xx after the last attempt) whose delivery a later send got through.
_SENT_AFTER_ALL = (
    "b.origin = 'smtp' AND b.kind = 'soft' AND EXISTS (SELECT 1 FROM deliveries d"
    " WHERE d.edition_id = b.edition_id AND d.subscriber_id = b.subscriber_id"
    " AND d.status = 'sent')"
)
_POLICY_REPLY = "(d.reply GLOB '[45][0-9][0-9] [45].7.*' OR d.reply GLOB '[45].7.*')"


def record_bounce(db: sqlite_utils.Database, record: BounceRecord) -> None:
    db.execute(
        "INSERT INTO bounces (subscriber_id, edition_id, kind, status_code, diagnostic, origin,"
        " fingerprint, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            record.subscriber_id,
            record.edition_id,
            record.kind,
            record.status_code,
            record.diagnostic[:1000],
            record.origin,
            record.fingerprint,
            to_db(record.at),
        ],
    )


def find_delivery(db: sqlite_utils.Database, message_ids: Sequence[str]) -> tuple[int, int] | None:
    """(edition_id, subscriber_id) of the delivery sent with one of ``message_ids`` (first
    match in the order given), or None. Message-IDs are compared with their angle brackets."""
    for message_id in message_ids:
        row = db.execute(
            "SELECT edition_id, subscriber_id FROM deliveries WHERE message_id = ? LIMIT 1",
            [message_id],
        ).fetchone()
        if row is not None:
            return int(row[0]), int(row[1])
    return None


def edition_exists(db: sqlite_utils.Database, edition_id: int) -> bool:
    return db.execute("SELECT 1 FROM editions WHERE id = ?", [edition_id]).fetchone() is not None


def is_processed(db: sqlite_utils.Database, fingerprint: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM bounce_messages WHERE fingerprint = ?", [fingerprint]
    ).fetchone()
    return row is not None


def mark_processed(
    db: sqlite_utils.Database, fingerprint: str, origin: str, outcome: str, now: datetime
) -> None:
    db.execute(
        "INSERT OR IGNORE INTO bounce_messages (fingerprint, origin, outcome, imported_at)"
        " VALUES (?, ?, ?, ?)",
        [fingerprint, origin, outcome, to_db(now)],
    )


def soft_bounce_count(db: sqlite_utils.Database, subscriber_id: int, since: datetime) -> int:
    """Soft bounces of the subscriber after ``since``, one per edition (a delivery retried
    over several sends, or reported both at SMTP time and by a DSN, is one failure to the
    reader). A bounce with no known edition counts on its own. An SMTP-time give-up whose
    delivery was later sent after all does not count."""
    row = db.execute(
        f"""
        SELECT COUNT(DISTINCT COALESCE('e' || b.edition_id, 'b' || b.id)) FROM bounces b
        WHERE b.subscriber_id = ? AND b.kind = 'soft' AND b.at > ?
          AND NOT ({_SENT_AFTER_ALL})
        """,
        [subscriber_id, to_db(since)],
    ).fetchone()
    return int(row[0])


def bounce_counts(db: sqlite_utils.Database, edition_id: int) -> dict[str, int]:
    """Readers of the edition with a hard bounce, a soft bounce, a complaint, or a policy
    rejection (x.7.x: the sender's problem, not held against the reader). Each reader counts
    once per kind. SMTP-time results are read from the deliveries too, so the counts are
    right even for a send that did not record its failures in ``bounces``."""
    row = db.execute(
        f"""
        WITH per_kind (kind, subscriber_id) AS (
            SELECT b.kind, b.subscriber_id FROM bounces b
            WHERE b.edition_id = :e AND NOT ({_SENT_AFTER_ALL})
            UNION
            SELECT 'hard', d.subscriber_id FROM deliveries d
            WHERE d.edition_id = :e AND d.status = 'bounced'
            UNION
            SELECT CASE WHEN d.status = 'failed' AND {_POLICY_REPLY} THEN 'policy'
                ELSE 'soft' END, d.subscriber_id
            FROM deliveries d WHERE d.edition_id = :e AND d.status IN ('failed', 'deferred')
        )
        SELECT COALESCE(SUM(kind = 'hard'), 0), COALESCE(SUM(kind = 'soft'), 0),
               COALESCE(SUM(kind = 'complaint'), 0), COALESCE(SUM(kind = 'policy'), 0)
        FROM per_kind
        """,
        {"e": edition_id},
    ).fetchone()
    return {
        "hard": int(row[0]),
        "soft": int(row[1]),
        "complaints": int(row[2]),
        "policy": int(row[3]),
    }
