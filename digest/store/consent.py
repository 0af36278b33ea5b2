"""SQL for sign-up requests: the choices a web sign-up asked for, held until confirmed.

A confirm token names one row (its id and nonce); only the newest row of a subscriber can
be confirmed, and only once. See digest/app/signup.py for the rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from digest.clock import from_db, to_db
from digest.models import Frequency
from digest.store.connection import named


@dataclass(frozen=True)
class SignupRequest:
    id: int
    subscriber_id: int
    nonce: str
    name: str
    frequency: Frequency
    category_ids: tuple[int, ...]
    outcome: str
    created_at: datetime
    timezone: str | None
    delivery_day: str | None
    confirmed_at: datetime | None
    latest: bool  # no newer request exists for this subscriber


def add_request(
    db: sqlite_utils.Database,
    *,
    subscriber_id: int,
    nonce: str,
    name: str,
    frequency: str,
    category_ids: tuple[int, ...],
    outcome: str,
    now: datetime,
    timezone: str | None = None,
    delivery_day: str | None = None,
) -> int:
    """Store one request; it supersedes every older one of the subscriber."""
    cursor = db.execute(
        "INSERT INTO signup_requests (subscriber_id, nonce, name, frequency, category_ids, "
        "outcome, created_at, timezone, delivery_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            subscriber_id,
            nonce,
            name,
            frequency,
            json.dumps(list(category_ids)),
            outcome,
            to_db(now),
            timezone,
            delivery_day,
        ],
    )
    return int(cursor.lastrowid or 0)


def get_request(db: sqlite_utils.Database, request_id: int) -> SignupRequest | None:
    row = named(
        db,
        """
        SELECT r.*, NOT EXISTS (
            SELECT 1 FROM signup_requests n WHERE n.subscriber_id = r.subscriber_id
            AND n.id > r.id
        ) AS latest
        FROM signup_requests r WHERE r.id = ?
        """,
        [request_id],
    ).fetchone()
    if row is None:
        return None
    created_at = from_db(row["created_at"])
    assert created_at is not None  # NOT NULL column
    return SignupRequest(
        id=int(row["id"]),
        subscriber_id=int(row["subscriber_id"]),
        nonce=str(row["nonce"]),
        name=str(row["name"]),
        frequency=Frequency(row["frequency"]),
        category_ids=tuple(int(i) for i in json.loads(row["category_ids"])),
        outcome=str(row["outcome"]),
        created_at=created_at,
        timezone=row["timezone"],
        delivery_day=row["delivery_day"],
        confirmed_at=from_db(row["confirmed_at"]),
        latest=bool(row["latest"]),
    )


def latest_request_id(db: sqlite_utils.Database, subscriber_id: int) -> int | None:
    row = db.execute(
        "SELECT MAX(id) FROM signup_requests WHERE subscriber_id = ?", [subscriber_id]
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def mark_confirmed(db: sqlite_utils.Database, request_id: int, now: datetime) -> None:
    db.execute("UPDATE signup_requests SET confirmed_at = ? WHERE id = ?", [to_db(now), request_id])


def existing_category_ids(
    db: sqlite_utils.Database, category_ids: tuple[int, ...]
) -> tuple[int, ...]:
    """``category_ids`` less any category deleted since the request was made, in order."""
    if not category_ids:
        return ()
    marks = ", ".join("?" for _ in category_ids)
    found = {
        int(r[0])
        for r in db.execute(f"SELECT id FROM categories WHERE id IN ({marks})", category_ids)
    }
    return tuple(i for i in category_ids if i in found)


def category_names(db: sqlite_utils.Database, category_ids: tuple[int, ...]) -> tuple[str, ...]:
    """The names of ``category_ids`` that still exist, in the site's order."""
    if not category_ids:
        return ()
    marks = ", ".join("?" for _ in category_ids)
    rows = db.execute(
        f"SELECT name FROM categories WHERE id IN ({marks}) ORDER BY position, name",
        category_ids,
    ).fetchall()
    return tuple(str(r[0]) for r in rows)
