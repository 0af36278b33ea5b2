"""Subscribers, their subscriptions and their event history: all the SQL for them.

Addresses are matched by ``email_hash`` (sha256 of the lower-cased normalised address), not
by the ``email`` column: the hash survives :func:`forget`, so a forgotten address stays
suppressed, and Python's ``str.lower`` folds non-ASCII letters that SQLite's NOCASE does not.

Every status change goes through :func:`set_status`, which also writes an ``events`` row.
Callers own the transaction (``digest.store.transaction``) when several calls must stand or
fall together; each function here is safe to call inside one.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from digest.clock import from_db, to_db
from digest.models import (
    SUBSCRIBER_STATUSES,
    SUPPRESSED_STATUSES,
    Event,
    Frequency,
    Subscriber,
    SubscriberStatus,
)
from digest.store.connection import named

# Event kind written when a subscriber moves into each status (see set_status).
STATUS_EVENT_KINDS = {
    "pending": "pending",
    "active": "subscribed",
    "unsubscribed": "unsubscribed",
    "bounced": "bounced",
    "complained": "complained",
    "forgotten": "forgotten",
}

_COLUMNS = (
    "id, email, name, status, frequency, timezone, created_at, confirmed_at, "
    "unsubscribed_at, source, language, delivery_day"
)
SUPPRESSED_SQL = ", ".join(sorted(f"'{s}'" for s in SUPPRESSED_STATUSES))


def email_hash(email: str) -> str:
    """The key an address is matched and suppressed by: sha256 of the lower-cased address.
    Pass the *normalised* address (``digest.subscribers.normalise_email``)."""
    return hashlib.sha256(email.lower().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewSubscriber:
    """The fields of a subscriber row to insert or overwrite (categories are separate)."""

    email: str
    name: str = ""
    status: str = "active"
    frequency: str = "weekly"
    timezone: str = "UTC"
    source: str = ""
    consent_ip: str = ""


def insert_subscriber(db: sqlite_utils.Database, new: NewSubscriber, now: datetime) -> int:
    """Insert a subscriber and its first event (kind from STATUS_EVENT_KINDS); return its id.
    An active subscriber counts as confirmed now. The address must not exist yet."""
    at = to_db(now)
    cursor = db.execute(
        """
        INSERT INTO subscribers (email, email_hash, name, status, frequency, timezone,
            created_at, confirmed_at, source, consent_ip)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            new.email,
            email_hash(new.email),
            new.name,
            new.status,
            new.frequency,
            new.timezone,
            at,
            at if new.status == "active" else None,
            new.source,
            new.consent_ip,
        ],
    )
    subscriber_id = int(cursor.lastrowid or 0)
    record_event(db, subscriber_id, STATUS_EVENT_KINDS[new.status], now, new.source)
    return subscriber_id


def add_if_new(
    db: sqlite_utils.Database, new: NewSubscriber, now: datetime
) -> tuple[Subscriber, bool]:
    """The subscriber with ``new.email``, inserted first when the address is unknown (True),
    found otherwise (False, nothing written; a forgotten address is found by its hash).
    The same statements run either way (docs/architecture.md: web sign-up must not reveal
    by its timing whether an address is known)."""
    at = to_db(now)
    cursor = db.execute(
        """
        INSERT INTO subscribers (email, email_hash, name, status, frequency, timezone,
            created_at, confirmed_at, source, consent_ip)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
        """,
        [
            new.email,
            email_hash(new.email),
            new.name,
            new.status,
            new.frequency,
            new.timezone,
            at,
            at if new.status == "active" else None,
            new.source,
            new.consent_ip,
        ],
    )
    subscriber = get_subscriber_by_email(db, new.email)
    if subscriber is None:  # just inserted or found, in this transaction
        raise LookupError(f"no subscriber for {email_hash(new.email)}")
    return subscriber, cursor.rowcount == 1


def update_subscriber(
    db: sqlite_utils.Database,
    subscriber_id: int,
    *,
    email: str | None = None,
    name: str | None = None,
    frequency: str | None = None,
    timezone: str | None = None,
    language: str | None = None,
    delivery_day: str | None = None,
) -> None:
    """Overwrite the given profile fields (None leaves a field as it is). Status changes go
    through :func:`set_status` instead, so they are always recorded as events."""
    fields: dict[str, str] = {}
    if email is not None:
        fields["email"] = email
        fields["email_hash"] = email_hash(email)
    for key, value in (
        ("name", name),
        ("frequency", frequency),
        ("timezone", timezone),
        ("language", language),
        ("delivery_day", delivery_day),
    ):
        if value is not None:
            fields[key] = value
    if not fields:
        return
    assignments = ", ".join(f"{key} = ?" for key in fields)
    db.execute(
        f"UPDATE subscribers SET {assignments} WHERE id = ?", [*fields.values(), subscriber_id]
    )


def set_categories(
    db: sqlite_utils.Database, subscriber_id: int, category_ids: Sequence[int]
) -> None:
    """Replace the subscriber's categories; ``position`` keeps the order given."""
    db.execute("DELETE FROM subscriptions WHERE subscriber_id = ?", [subscriber_id])
    db.conn.executemany(
        "INSERT OR IGNORE INTO subscriptions (subscriber_id, category_id, position) "
        "VALUES (?, ?, ?)",
        [(subscriber_id, category_id, i) for i, category_id in enumerate(category_ids)],
    )


def category_ids_for(db: sqlite_utils.Database, subscriber_id: int) -> list[int]:
    """The subscriber's category ids in their order."""
    rows = db.execute(
        "SELECT category_id FROM subscriptions WHERE subscriber_id = ? ORDER BY position",
        [subscriber_id],
    ).fetchall()
    return [int(r[0]) for r in rows]


def get_subscriber(db: sqlite_utils.Database, subscriber_id: int) -> Subscriber | None:
    row = named(db, f"SELECT {_COLUMNS} FROM subscribers WHERE id = ?", [subscriber_id]).fetchone()
    return _with_categories(db, [row])[0] if row else None


def get_subscriber_by_email(db: sqlite_utils.Database, email: str) -> Subscriber | None:
    """Look up by address, any case. A forgotten subscriber is found too (with email '')."""
    row = named(
        db, f"SELECT {_COLUMNS} FROM subscribers WHERE email_hash = ?", [email_hash(email)]
    ).fetchone()
    return _with_categories(db, [row])[0] if row else None


def iter_subscribers(
    db: sqlite_utils.Database,
    *,
    category_id: int | None = None,
    status: str | None = None,
    page_size: int = 1000,
) -> Iterator[Subscriber]:
    """Every subscriber (optionally in one category and/or one status) in id order, with
    categories. Keyset pagination: memory and time per page stay flat however many rows."""
    last_id = 0
    while True:
        sql = f"SELECT {', '.join('s.' + c for c in _COLUMNS.split(', '))} FROM subscribers s"
        params: list[object] = []
        if category_id is not None:
            # The join walks subscriptions_category (category_id, subscriber_id) in id order.
            sql += " JOIN subscriptions x ON x.subscriber_id = s.id AND x.category_id = ?"
            params.append(category_id)
        sql += " WHERE s.id > ?"
        params.append(last_id)
        if status is not None:
            sql += " AND s.status = ?"
            params.append(status)
        sql += " ORDER BY s.id LIMIT ?"
        params.append(page_size)
        rows = named(db, sql, params).fetchall()
        if not rows:
            return
        yield from _with_categories(db, rows)
        last_id = int(rows[-1]["id"])
        if len(rows) < page_size:
            return


def count_subscribers(
    db: sqlite_utils.Database, *, category_id: int | None = None, status: str | None = None
) -> int:
    """How many rows :func:`iter_subscribers` yields for the same filters."""
    sql = "SELECT COUNT(*) FROM subscribers s"
    params: list[object] = []
    if category_id is not None:
        sql += " JOIN subscriptions x ON x.subscriber_id = s.id AND x.category_id = ?"
        params.append(category_id)
    if status is not None:
        sql += " WHERE s.status = ?"
        params.append(status)
    return int(db.execute(sql, params).fetchone()[0])


def _with_categories(db: sqlite_utils.Database, rows: Sequence[sqlite3.Row]) -> list[Subscriber]:
    ids = [int(r["id"]) for r in rows]
    names: dict[int, list[str]] = {i: [] for i in ids}
    # One range query per page instead of one query per subscriber.
    for subscriber_id, name in db.execute(
        """
        SELECT x.subscriber_id, c.name FROM subscriptions x
        JOIN categories c ON c.id = x.category_id
        WHERE x.subscriber_id BETWEEN ? AND ? ORDER BY x.subscriber_id, x.position
        """,
        [min(ids), max(ids)],
    ):
        if subscriber_id in names:
            names[subscriber_id].append(name)
    return [_subscriber(r, tuple(names[i])) for r, i in zip(rows, ids, strict=True)]


def _subscriber(row: sqlite3.Row, categories: tuple[str, ...]) -> Subscriber:
    return Subscriber(
        id=int(row["id"]),
        email=row["email"] or "",
        name=row["name"],
        status=SubscriberStatus(row["status"]),
        frequency=Frequency(row["frequency"]),
        timezone=row["timezone"],
        categories=categories,
        created_at=from_db(row["created_at"]),
        confirmed_at=from_db(row["confirmed_at"]),
        unsubscribed_at=from_db(row["unsubscribed_at"]),
        source=row["source"],
        language=row["language"],
        delivery_day=row["delivery_day"],
    )


def set_status(
    db: sqlite_utils.Database,
    subscriber_id: int,
    status: str,
    now: datetime,
    source: str,
    detail: str = "",
    *,
    kind: str | None = None,
    edition_id: int | None = None,
) -> bool:
    """Move a subscriber to ``status`` and record the event; False (nothing written) when
    the status is already that. ``edition_id``: the edition whose link caused it (an
    unsubscribe link from a digest), recorded with the event for the reports.

    The event kind defaults to STATUS_EVENT_KINDS, except pending -> active, which is
    'confirmed'. Becoming active sets confirmed_at (first time only) and clears
    unsubscribed_at; entering a suppressed status sets unsubscribed_at (first time only,
    so forgetting an unsubscribed reader keeps when they left).
    """
    if status not in SUBSCRIBER_STATUSES:
        raise ValueError(f"unknown status {status!r}")
    row = db.execute("SELECT status FROM subscribers WHERE id = ?", [subscriber_id]).fetchone()
    if row is None:
        raise LookupError(f"no subscriber with id {subscriber_id}")
    old = str(row[0])
    if old == status:
        return False
    at = to_db(now)
    if status == "active":
        db.execute(
            "UPDATE subscribers SET status = ?, confirmed_at = COALESCE(confirmed_at, ?), "
            "unsubscribed_at = NULL WHERE id = ?",
            [status, at, subscriber_id],
        )
    elif status in SUPPRESSED_STATUSES:
        db.execute(
            "UPDATE subscribers SET status = ?, unsubscribed_at = COALESCE(unsubscribed_at, ?) "
            "WHERE id = ?",
            [status, at, subscriber_id],
        )
    else:
        db.execute("UPDATE subscribers SET status = ? WHERE id = ?", [status, subscriber_id])
    if kind is None:
        kind = "confirmed" if (old, status) == ("pending", "active") else STATUS_EVENT_KINDS[status]
    record_event(db, subscriber_id, kind, now, source, detail, edition_id=edition_id)
    return True


def record_event(
    db: sqlite_utils.Database,
    subscriber_id: int,
    kind: str,
    at: datetime,
    source: str = "",
    detail: str = "",
    *,
    edition_id: int | None = None,
) -> None:
    """Append one row to the subscriber's history (status changes, profile updates, soft
    bounces...). Never put the address itself in ``detail``: forget() keeps events. An
    ``edition_id`` naming no edition is stored as NULL rather than refused."""
    db.execute(
        "INSERT INTO events (subscriber_id, kind, at, source, detail, edition_id)"
        " VALUES (?, ?, ?, ?, ?, (SELECT id FROM editions WHERE id = ?))",
        [subscriber_id, kind, to_db(at), source, detail, edition_id],
    )


def last_event_at(db: sqlite_utils.Database, subscriber_id: int, kind: str) -> datetime | None:
    """When the subscriber last had an event of this kind, or None."""
    row = db.execute(
        "SELECT MAX(at) FROM events WHERE subscriber_id = ? AND kind = ?", [subscriber_id, kind]
    ).fetchone()
    return from_db(row[0]) if row and row[0] else None


def events_for(db: sqlite_utils.Database, subscriber_id: int) -> list[Event]:
    """The subscriber's history, oldest first."""
    rows = db.execute(
        "SELECT subscriber_id, kind, at, source, detail FROM events "
        "WHERE subscriber_id = ? ORDER BY at, id",
        [subscriber_id],
    ).fetchall()
    return [
        Event(subscriber_id=r[0], kind=r[1], at=_time(r[2]), source=r[3], detail=r[4]) for r in rows
    ]


def _time(value: str) -> datetime:
    at = from_db(value)
    if at is None:  # events.at is NOT NULL; this only narrows the type
        raise ValueError("event without a time")
    return at


def forget(db: sqlite_utils.Database, subscriber_id: int, now: datetime, source: str) -> None:
    """Erase the personal data of a subscriber (GDPR erasure) but keep the row, its
    email_hash and a 'forgotten' status, so the address stays suppressed and cannot be
    re-added by mistake. Subscriptions go; event details, relay replies on deliveries and
    bounce diagnostics are blanked because they can quote the address; sign-up requests
    (a typed name and choices) are deleted."""
    set_status(db, subscriber_id, "forgotten", now, source)
    db.execute(
        "UPDATE subscribers SET email = NULL, name = '', timezone = 'UTC', consent_ip = '' "
        "WHERE id = ?",
        [subscriber_id],
    )
    db.execute("DELETE FROM subscriptions WHERE subscriber_id = ?", [subscriber_id])
    # Sign-up requests hold the name and choices someone typed for the address.
    db.execute("DELETE FROM signup_requests WHERE subscriber_id = ?", [subscriber_id])
    db.execute("UPDATE events SET detail = '' WHERE subscriber_id = ?", [subscriber_id])
    db.execute("UPDATE deliveries SET reply = '' WHERE subscriber_id = ?", [subscriber_id])
    db.execute("UPDATE bounces SET diagnostic = '' WHERE subscriber_id = ?", [subscriber_id])
    # Which links and images the reader fetched (per-reader tracking, docs/tracking.md).
    db.execute("DELETE FROM reader_clicks WHERE subscriber_id = ?", [subscriber_id])
    db.execute("DELETE FROM reader_opens WHERE subscriber_id = ?", [subscriber_id])


def is_suppressed(db: sqlite_utils.Database, email: str) -> bool:
    """True when the address (any case; normalised) belongs to an unsubscribed, bounced,
    complained or forgotten subscriber: no path may mail or re-subscribe it silently."""
    row = db.execute(
        f"SELECT 1 FROM subscribers WHERE email_hash = ? AND status IN ({SUPPRESSED_SQL})",
        [email_hash(email)],
    ).fetchone()
    return row is not None


def suppressed_hashes(db: sqlite_utils.Database, hashes: Iterable[str]) -> set[str]:
    """The subset of ``hashes`` that are suppressed: one query for a batch of addresses."""
    batch = list(hashes)
    found: set[str] = set()
    for start in range(0, len(batch), 500):
        chunk = batch[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        found.update(
            r[0]
            for r in db.execute(
                f"SELECT email_hash FROM subscribers WHERE email_hash IN ({marks}) "
                f"AND status IN ({SUPPRESSED_SQL})",
                chunk,
            )
        )
    return found
