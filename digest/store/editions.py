"""Editions, deliveries and the per-edition send lock: the send loop's bookkeeping.

A delivery row moves pending -> sending -> sent (or failed, bounced, deferred, skipped).
Each change is committed on its own, the moment it happens, so a killed send resumes exactly
where it stopped: rows still 'sending' are the messages that were in flight.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime

import sqlite_utils

from digest.clock import from_db, to_db
from digest.errors import NotFoundError
from digest.models import (
    ArticleRow,
    DeliveryRow,
    DeliveryStatus,
    Edition,
    EditionStatus,
    Frequency,
    RecipientRow,
    SubscriberStatus,
)
from digest.store.choices import skip_paused
from digest.store.connection import named, transaction
from digest.store.leases import HOLDS, check_send_lock


def edition_of(row: sqlite3.Row) -> Edition:
    return Edition(
        id=int(row["id"]),
        frequency=Frequency(row["frequency"]),
        period=str(row["period"]),
        starts_at=_time(row["starts_at"]),
        ends_at=_time(row["ends_at"]),
        status=EditionStatus(row["status"]),
        created_at=from_db(row["created_at"]),
        completed_at=from_db(row["completed_at"]),
        note=str(row["note"]),
        approval=str(row["approval"]),
        intro=str(row["intro"]),
        subject=str(row["subject"]),
        due_at=from_db(row["due_at"]),
        approved_at=from_db(row["approved_at"]),
        approved_by=str(row["approved_by"]),
        started_at=from_db(row["started_at"]),
    )


def _time(value: str) -> datetime:
    at = from_db(value)
    if at is None:  # NOT NULL columns; this only narrows the type
        raise ValueError("missing time")
    return at


EDITION_COLUMNS = (
    "id, frequency, period, starts_at, ends_at, status, created_at, completed_at, note,"
    " approval, intro, subject, due_at, approved_at, approved_by, started_at"
)


def find_edition(db: sqlite_utils.Database, frequency: str, period: str) -> Edition | None:
    row = named(
        db,
        f"SELECT {EDITION_COLUMNS} FROM editions WHERE frequency = ? AND period = ?",
        [frequency, period],
    ).fetchone()
    return edition_of(row) if row else None


def next_edition_id(db: sqlite_utils.Database) -> int:
    """The id the next edition opened will get (``id INTEGER PRIMARY KEY``: the largest plus
    one), for previews of an edition not opened yet."""
    row = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM editions").fetchone()
    return int(row[0])


def get_edition(db: sqlite_utils.Database, edition_id: int) -> Edition:
    row = named(db, f"SELECT {EDITION_COLUMNS} FROM editions WHERE id = ?", [edition_id]).fetchone()
    if not row:
        raise NotFoundError(f"no edition with id {edition_id} (see `digest editions list`)")
    return edition_of(row)


def list_editions(db: sqlite_utils.Database, *, status: str | None = None) -> list[Edition]:
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    rows = named(
        db,
        f"SELECT {EDITION_COLUMNS} FROM editions {where} ORDER BY ends_at DESC, id DESC",
        params,
    ).fetchall()
    return [edition_of(r) for r in rows]


_GROUP_KEY_SQL = (
    "(SELECT group_concat(category_id) FROM (SELECT category_id FROM subscriptions"
    " WHERE subscriber_id = s.id ORDER BY category_id))"
)


def create_edition(
    db: sqlite_utils.Database,
    *,
    frequency: str,
    period: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    days: tuple[str, ...] | None = None,
) -> Edition:
    """Create the edition and one pending delivery per active subscriber of that frequency
    (and of one of ``days``, see :func:`add_recipients`), in one transaction: whoever joins
    later is not added to this edition."""
    with transaction(db):
        cursor = db.execute(
            "INSERT INTO editions (frequency, period, starts_at, ends_at, status, created_at,"
            " started_at) VALUES (?, ?, ?, ?, 'sending', ?, ?)",
            [frequency, period, to_db(starts_at), to_db(ends_at), to_db(now), to_db(now)],
        )
        edition_id = int(cursor.lastrowid or 0)
        add_recipients(db, edition_id, frequency, now, days)
    return get_edition(db, edition_id)


def add_recipients(
    db: sqlite_utils.Database,
    edition_id: int,
    frequency: str,
    now: datetime,
    days: tuple[str, ...] | None = None,
) -> None:
    """One pending delivery per active subscriber of ``frequency`` whose ``delivery_day`` is
    one of ``days`` (None: any): the edition's recipients, fixed now. Call inside the
    transaction that marks the edition sending."""
    day_sql, day_params = _days_filter(days)
    db.execute(
        f"""
            INSERT INTO deliveries (edition_id, subscriber_id, status, group_key, updated_at)
            SELECT ?, s.id, 'pending', {_GROUP_KEY_SQL}, ?
            FROM subscribers s
            WHERE s.status = 'active' AND s.frequency = ?{day_sql}
              AND EXISTS (SELECT 1 FROM subscriptions x WHERE x.subscriber_id = s.id)
            """,
        [edition_id, to_db(now), frequency, *day_params],
    )
    # Readers on a break are in the edition, as skipped with the reason (store/choices).
    skip_paused(db, edition_id, now)


def mark_edition(
    db: sqlite_utils.Database,
    edition_id: int,
    status: str,
    now: datetime,
    note: str = "",
    *,
    generation: int | None = None,
) -> None:
    """Close the edition (complete, skipped); with a ``generation``, only while it holds
    the edition's lease (else LeaseLostError)."""
    if generation is None:
        db.execute(
            "UPDATE editions SET status = ?, completed_at = ?, note = ? WHERE id = ?",
            [status, to_db(now), note, edition_id],
        )
        return
    cursor = db.execute(
        f"UPDATE editions SET status = ?, completed_at = ?, note = ? WHERE id = ? AND {HOLDS}",
        [status, to_db(now), note, edition_id, edition_id, generation],
    )
    if cursor.rowcount == 0:
        check_send_lock(db, edition_id, generation)


def skip_missed_edition(
    db: sqlite_utils.Database,
    *,
    frequency: str,
    period: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    note: str,
) -> Edition:
    """Record an edition that was deliberately not sent (e.g. missed by too much)."""
    with transaction(db):
        db.execute(
            "INSERT INTO editions (frequency, period, starts_at, ends_at, status, created_at,"
            " completed_at, note) VALUES (?, ?, ?, ?, 'skipped', ?, ?, ?)",
            [frequency, period, to_db(starts_at), to_db(ends_at), to_db(now), to_db(now), note],
        )
    edition = find_edition(db, frequency, period)
    assert edition is not None
    return edition


_RECIPIENT_COLUMNS = """
    s.id AS subscriber_id, s.email, s.name, s.timezone, s.language, {group_key} AS group_key,
    (SELECT MAX(e.ends_at) FROM deliveries d2 JOIN editions e ON e.id = d2.edition_id
      WHERE d2.subscriber_id = s.id AND d2.status = 'sent' {not_this_edition}) AS last_sent_end
"""


def _days_filter(days: tuple[str, ...] | None) -> tuple[str, list[str]]:
    if days is None:
        return "", []
    return f" AND s.delivery_day IN ({', '.join('?' * len(days))})", list(days)


def delivery_days(db: sqlite_utils.Database) -> list[str]:
    """The delivery_day values of the active weekly readers ('' for the site's day)."""
    rows = db.execute(
        "SELECT DISTINCT delivery_day FROM subscribers"
        " WHERE status = 'active' AND frequency = 'weekly'"
    ).fetchall()
    return sorted(str(r[0]) for r in rows)


def iter_planned_recipients(
    db: sqlite_utils.Database,
    frequency: str,
    *,
    batch: int = 1000,
    days: tuple[str, ...] | None = None,
) -> Iterator[RecipientRow]:
    """Active subscribers of a frequency as a new edition would take them, ordered by their
    category set so that recipients of the same content come one after another (one render
    per variant). Read-only: a dry run changes nothing."""
    columns = _RECIPIENT_COLUMNS.format(group_key=_GROUP_KEY_SQL, not_this_edition="")
    day_sql, day_params = _days_filter(days)
    cursor = named(
        db,
        f"""
        SELECT {columns} FROM subscribers s
        WHERE s.status = 'active' AND s.frequency = ?{day_sql}
          AND EXISTS (SELECT 1 FROM subscriptions x WHERE x.subscriber_id = s.id)
        ORDER BY group_key, s.id
        """,
        [frequency, *day_params],
    )
    while rows := cursor.fetchmany(batch):
        yield from (_recipient(r) for r in rows)


def count_planned_recipients(
    db: sqlite_utils.Database, frequency: str, *, days: tuple[str, ...] | None = None
) -> int:
    """How many readers :func:`iter_planned_recipients` yields (one indexed count)."""
    day_sql, day_params = _days_filter(days)
    row = db.execute(
        f"""
        SELECT COUNT(*) FROM subscribers s
        WHERE s.status = 'active' AND s.frequency = ?{day_sql}
          AND EXISTS (SELECT 1 FROM subscriptions x WHERE x.subscriber_id = s.id)
        """,
        [frequency, *day_params],
    ).fetchone()
    return int(row[0])


def iter_open_deliveries(
    db: sqlite_utils.Database, edition_id: int, *, batch: int = 1000
) -> Iterator[RecipientRow]:
    """The edition's deliveries still to do (pending, in flight when a send was killed, or
    deferred), in variant order. Subscribers who left since the edition started come back
    with their ``subscriber_status`` so the caller skips them.

    Keyset pages, each read completely: no statement stays open between pages, so the caller
    can commit on the same connection while iterating."""
    columns = _RECIPIENT_COLUMNS.format(
        group_key="d.group_key", not_this_edition="AND d2.edition_id != d.edition_id"
    )
    last_key, last_id = "", 0
    while True:
        rows = named(
            db,
            f"""
            SELECT {columns}, d.status, d.attempts, s.status AS subscriber_status
            FROM deliveries d
            JOIN subscribers s ON s.id = d.subscriber_id
            WHERE d.edition_id = ? AND d.status IN ('pending', 'sending', 'deferred')
              AND (d.group_key > ? OR (d.group_key = ? AND d.subscriber_id > ?))
            ORDER BY d.group_key, d.subscriber_id
            LIMIT ?
            """,
            [edition_id, last_key, last_key, last_id, batch],
        ).fetchall()
        if not rows:
            return
        yield from (_resumed(r) for r in rows)
        last_key, last_id = rows[-1]["group_key"] or "", rows[-1]["subscriber_id"]


def count_open(db: sqlite_utils.Database, edition_id: int) -> tuple[int, int]:
    """(deliveries still to do, of which in flight when the last send stopped)."""
    row = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(status = 'sending'), 0) FROM deliveries"
        " WHERE edition_id = ? AND status IN ('pending', 'sending', 'deferred')",
        [edition_id],
    ).fetchone()
    return int(row[0]), int(row[1])


def _recipient(row: sqlite3.Row) -> RecipientRow:
    """A recipient a new edition would take (a dry run, a preview)."""
    return RecipientRow(
        subscriber_id=row["subscriber_id"],
        email=row["email"] or "",
        name=row["name"],
        timezone=row["timezone"],
        category_ids=_category_ids(row["group_key"]),
        last_sent_end=row["last_sent_end"],
        language=row["language"],
    )


def _resumed(row: sqlite3.Row) -> RecipientRow:
    """An open delivery of an edition, with its status and the subscriber's status now."""
    return RecipientRow(
        subscriber_id=row["subscriber_id"],
        email=row["email"] or "",
        name=row["name"],
        timezone=row["timezone"],
        category_ids=_category_ids(row["group_key"]),
        last_sent_end=row["last_sent_end"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        subscriber_status=SubscriberStatus(row["subscriber_status"]),
        language=row["language"],
    )


def _category_ids(group_key: str | None) -> tuple[int, ...]:
    return tuple(int(x) for x in (group_key or "").split(",") if x)


def available_articles(
    db: sqlite_utils.Database, *, published_after: str, available_until: str
) -> list[ArticleRow]:
    """Every article an edition could carry, newest first, one row per (article, category):
    published after ``published_after`` (the longest look-back) and available by the cutoff.

    An article becomes *available* when it is both published and imported. Windows are cut on
    that moment, so each article falls in exactly one edition per subscriber: never twice, and
    an article imported late (published before the last cutoff) is not skipped either. One
    query per edition; curate filters these rows per group of recipients."""
    rows = db.execute(
        f"""
        SELECT a.id, a.url, a.title, a.summary, a.author, a.image_url, a.image_alt,
               a.published_at, ac.category_id, MAX(a.published_at, a.imported_at),
               {WORDS}
        FROM articles a JOIN article_categories ac ON ac.article_id = a.id
        WHERE a.published_at > ? AND MAX(a.published_at, a.imported_at) <= ?
        ORDER BY a.published_at DESC, a.id
        """,
        [published_after, available_until],
    ).fetchall()
    return [ArticleRow(*r) for r in rows]


# About the number of words in the body: its spaces and line breaks, counted in SQL so a send
# never loads the bodies themselves (the spaces inside tags make it a little high; it is for
# a reading time in minutes, docs/email.md rule 28).
WORDS = "(length(a.body_html) - length(replace(replace(a.body_html, ' ', ''), char(10), '')))"


def category_names(db: sqlite_utils.Database) -> dict[int, tuple[str, str, int]]:
    """id -> (name, slug, position) for every category."""
    rows = db.execute("SELECT id, name, slug, position FROM categories").fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


# --- delivery state changes: each one committed at once -----------------------------------


def mark_sending(
    db: sqlite_utils.Database,
    edition_id: int,
    subscriber_id: int,
    message_id: str,
    now: datetime,
    *,
    generation: int,
) -> bool:
    """Mark one delivery as going to the relay now, with its Message-ID: a sender thread
    does this just before the SMTP transaction, so after a kill the rows still 'sending'
    are exactly the messages that may have reached the relay (at most one per sender).
    False when the delivery is no longer open. LeaseLostError when ``generation`` no longer
    holds the edition's lease."""
    cursor = db.execute(
        "UPDATE deliveries SET status = 'sending', message_id = ?, updated_at = ?"
        " WHERE edition_id = ? AND subscriber_id = ?"
        f" AND status IN ('pending', 'sending', 'deferred') AND {HOLDS}",
        [message_id, to_db(now), edition_id, subscriber_id, edition_id, generation],
    )
    if cursor.rowcount:
        return True
    check_send_lock(db, edition_id, generation)
    return False


def mark_delivery(
    db: sqlite_utils.Database,
    edition_id: int,
    subscriber_id: int,
    status: str,
    now: datetime,
    *,
    generation: int | None = None,
    reply: str = "",
    article_ids: tuple[str, ...] | None = None,
    attempts: int | None = None,
    relay: str | None = None,
) -> None:
    """Record a delivery's outcome. ``article_ids`` is what a sent digest carried;
    ``attempts`` the SMTP transactions tried so far; ``relay`` which relay answered (each
    unchanged when None). With a ``generation``, only while it holds the edition's lease
    (else LeaseLostError)."""
    fence = f" AND {HOLDS}" if generation is not None else ""
    params: list[object] = [
        status,
        reply[:500],
        to_db(now),
        None if article_ids is None else json.dumps(list(article_ids)),
        attempts,
        relay,
        edition_id,
        subscriber_id,
    ]
    if generation is not None:
        params += [edition_id, generation]
    cursor = db.execute(
        "UPDATE deliveries SET status = ?, reply = ?, updated_at = ?,"
        " article_ids = COALESCE(?, article_ids), attempts = COALESCE(?, attempts),"
        " relay = COALESCE(?, relay)"
        f" WHERE edition_id = ? AND subscriber_id = ?{fence}",
        params,
    )
    if generation is not None and cursor.rowcount == 0:
        check_send_lock(db, edition_id, generation)


def delivery_counts(db: sqlite_utils.Database, edition_id: int) -> dict[str, int]:
    rows = db.execute(
        "SELECT status, COUNT(*) FROM deliveries WHERE edition_id = ? GROUP BY status",
        [edition_id],
    ).fetchall()
    counts = {
        s: 0 for s in ("pending", "sending", "sent", "skipped", "deferred", "failed", "bounced")
    }
    counts.update({r[0]: r[1] for r in rows})
    counts["recipients"] = sum(v for k, v in counts.items() if k != "recipients")
    return counts


def deliveries_of(db: sqlite_utils.Database, edition_id: int) -> list[DeliveryRow]:
    rows = named(
        db,
        "SELECT s.email, d.status, d.article_ids, d.attempts, d.reply, d.message_id"
        " FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id"
        " WHERE d.edition_id = ? ORDER BY d.subscriber_id",
        [edition_id],
    ).fetchall()
    return [
        DeliveryRow(
            email=r["email"] or "",
            status=DeliveryStatus(r["status"]),
            articles=tuple(json.loads(r["article_ids"])),
            attempts=int(r["attempts"]),
            reply=r["reply"],
            message_id=r["message_id"],
        )
        for r in rows
    ]


def planned_recipient(db: sqlite_utils.Database, email: str) -> RecipientRow | None:
    """One subscriber (any status) as a new edition would take them."""
    columns = _RECIPIENT_COLUMNS.format(group_key=_GROUP_KEY_SQL, not_this_edition="")
    row = named(
        db, f"SELECT {columns} FROM subscribers s WHERE s.email = ?", [email.strip()]
    ).fetchone()
    return _recipient(row) if row else None


def subscriber_frequency(db: sqlite_utils.Database, subscriber_id: int) -> str:
    row = db.execute("SELECT frequency FROM subscribers WHERE id = ?", [subscriber_id]).fetchone()
    return str(row[0]) if row else "weekly"
