"""The editor's desk: drafts, their life (approve, hold, cancel, start), the editors' pins
and exclusions, and the record of every change. Each state change is conditional on the
state it leaves, so two editors (or an editor and the scheduler) cannot both win."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import sqlite_utils

from digest.clock import from_db, to_db
from digest.models import Edition, EditionChange, EditionPick
from digest.store.connection import named, transaction
from digest.store.editions import EDITION_COLUMNS, add_recipients, edition_of, get_edition


def create_draft(
    db: sqlite_utils.Database,
    *,
    frequency: str,
    period: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    approval: str,
    due_at: datetime | None,
    editor: str,
) -> Edition:
    """A new draft: its cutoff fixed, no recipients yet. IntegrityError when the period
    already has an edition."""
    with transaction(db):
        cursor = db.execute(
            "INSERT INTO editions (frequency, period, starts_at, ends_at, status, created_at,"
            " approval, due_at) VALUES (?, ?, ?, ?, 'draft', ?, ?, ?)",
            [
                frequency,
                period,
                to_db(starts_at),
                to_db(ends_at),
                to_db(now),
                approval,
                to_db(due_at) if due_at else None,
            ],
        )
        edition_id = int(cursor.lastrowid or 0)
        _change(db, edition_id, now, editor, "prepare", f"cutoff {to_db(ends_at)}")
    return get_edition(db, edition_id)


def refresh_draft(
    db: sqlite_utils.Database,
    edition_id: int,
    *,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    editor: str,
) -> bool:
    """Move a draft's cutoff to ``ends_at``; False when it is no longer a draft."""
    with transaction(db):
        cursor = db.execute(
            "UPDATE editions SET starts_at = ?, ends_at = ? WHERE id = ? AND status = 'draft'",
            [to_db(starts_at), to_db(ends_at), edition_id],
        )
        if not cursor.rowcount:
            return False
        _change(db, edition_id, now, editor, "refresh", f"cutoff {to_db(ends_at)}")
    return True


def set_status(
    db: sqlite_utils.Database,
    edition_id: int,
    status: str,
    *,
    allowed_from: Iterable[str],
    now: datetime,
    editor: str,
    action: str,
    detail: str = "",
) -> bool:
    """Move the edition to ``status`` if it is in one of ``allowed_from``, recording the
    change; False (nothing changed) otherwise."""
    sources = list(allowed_from)
    marks = ", ".join("?" for _ in sources)
    extra = ""
    params: list[object] = [status]
    if status == "approved":
        extra = ", approved_at = ?, approved_by = ?"
        params += [to_db(now), editor]
    elif status in ("cancelled", "skipped"):
        extra = ", completed_at = ?, note = ?"
        params += [to_db(now), detail]
    with transaction(db):
        cursor = db.execute(
            f"UPDATE editions SET status = ?{extra} WHERE id = ? AND status IN ({marks})",
            [*params, edition_id, *sources],
        )
        if not cursor.rowcount:
            return False
        _change(db, edition_id, now, editor, action, detail)
    return True


def start_edition(
    db: sqlite_utils.Database,
    edition_id: int,
    frequency: str,
    now: datetime,
    *,
    editor: str,
    days: tuple[str, ...] | None = None,
) -> bool:
    """A draft, approved or held edition begins sending: its recipients are fixed now, in
    the same transaction. False when it was not in one of those states."""
    with transaction(db):
        cursor = db.execute(
            "UPDATE editions SET status = 'sending', started_at = ?"
            " WHERE id = ? AND status IN ('draft', 'approved', 'held')",
            [to_db(now), edition_id],
        )
        if not cursor.rowcount:
            return False
        add_recipients(db, edition_id, frequency, now, days)
        _change(db, edition_id, now, editor, "send", "recipients fixed")
    return True


def set_text(
    db: sqlite_utils.Database,
    edition_id: int,
    column: str,
    value: str,
    *,
    now: datetime,
    editor: str,
    detail: str,
) -> bool:
    """Set the edition's intro or subject while it can still be steered."""
    if column not in ("intro", "subject"):
        raise ValueError(column)
    with transaction(db):
        cursor = db.execute(
            f"UPDATE editions SET {column} = ?"
            " WHERE id = ? AND status IN ('draft', 'approved', 'held')",
            [value, edition_id],
        )
        if not cursor.rowcount:
            return False
        _change(db, edition_id, now, editor, column, detail)
    return True


def set_due(db: sqlite_utils.Database, edition_id: int, due_at: datetime) -> None:
    db.execute("UPDATE editions SET due_at = ? WHERE id = ?", [to_db(due_at), edition_id])


def picks(db: sqlite_utils.Database, edition_id: int) -> list[EditionPick]:
    rows = db.execute(
        "SELECT article_id, action, category_id, position FROM edition_picks"
        " WHERE edition_id = ? ORDER BY action, category_id, position, article_id",
        [edition_id],
    ).fetchall()
    return [EditionPick(r[0], r[1], int(r[2]), int(r[3])) for r in rows]


def save_pins(
    db: sqlite_utils.Database,
    edition_id: int,
    category_id: int,
    article_ids: list[str],
    *,
    now: datetime,
    editor: str,
    action: str,
    detail: str,
) -> bool:
    """Replace the pins of one category with ``article_ids`` in that order (an article is
    pinned in one category at most), while the edition can be steered."""
    with transaction(db):
        if not _steerable(db, edition_id):
            return False
        db.execute(
            "DELETE FROM edition_picks WHERE edition_id = ? AND action = 'pin'"
            " AND (category_id = ? OR article_id IN (SELECT value FROM json_each(?)))",
            [edition_id, category_id, _json(article_ids)],
        )
        db.conn.executemany(
            "INSERT INTO edition_picks (edition_id, article_id, category_id, action, position)"
            " VALUES (?, ?, ?, 'pin', ?)",
            [(edition_id, a, category_id, i + 1) for i, a in enumerate(article_ids)],
        )
        _change(db, edition_id, now, editor, action, detail)
    return True


def set_excluded(
    db: sqlite_utils.Database,
    edition_id: int,
    article_id: str,
    excluded: bool,
    *,
    now: datetime,
    editor: str,
) -> bool:
    """Exclude an article from the edition (dropping a pin of it), or put it back."""
    with transaction(db):
        if not _steerable(db, edition_id):
            return False
        if excluded:
            db.execute(
                "DELETE FROM edition_picks WHERE edition_id = ? AND article_id = ?",
                [edition_id, article_id],
            )
            db.execute(
                "INSERT INTO edition_picks (edition_id, article_id, action)"
                " VALUES (?, ?, 'exclude')",
                [edition_id, article_id],
            )
        else:
            db.execute(
                "DELETE FROM edition_picks WHERE edition_id = ? AND article_id = ?"
                " AND action = 'exclude'",
                [edition_id, article_id],
            )
        _change(db, edition_id, now, editor, "exclude" if excluded else "include", article_id)
    return True


def changes(db: sqlite_utils.Database, edition_id: int) -> list[EditionChange]:
    rows = db.execute(
        "SELECT at, editor, action, detail FROM edition_changes WHERE edition_id = ? ORDER BY id",
        [edition_id],
    ).fetchall()
    return [EditionChange(_at(r[0]), r[1], r[2], r[3]) for r in rows]


def record_change(
    db: sqlite_utils.Database,
    edition_id: int,
    now: datetime,
    editor: str,
    action: str,
    detail: str = "",
) -> None:
    with transaction(db):
        _change(db, edition_id, now, editor, action, detail)


def editions_in(db: sqlite_utils.Database, statuses: Iterable[str]) -> list[Edition]:
    wanted = list(statuses)
    marks = ", ".join("?" for _ in wanted)
    rows = named(
        db,
        f"SELECT {EDITION_COLUMNS} FROM editions WHERE status IN ({marks})"
        " ORDER BY COALESCE(due_at, ends_at), id",
        wanted,
    ).fetchall()
    return [edition_of(r) for r in rows]


def readers_per_category(db: sqlite_utils.Database, frequency: str) -> dict[int, int]:
    """Active readers of ``frequency`` per category: who a send now would reach."""
    rows = db.execute(
        "SELECT x.category_id, COUNT(*) FROM subscriptions x"
        " JOIN subscribers s ON s.id = x.subscriber_id"
        " WHERE s.status = 'active' AND s.frequency = ? GROUP BY x.category_id",
        [frequency],
    ).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}


def unsubscribes_since(db: sqlite_utils.Database, edition_id: int) -> int:
    """Readers of the edition who unsubscribed after it started."""
    row = db.execute(
        "SELECT COUNT(DISTINCT ev.subscriber_id) FROM deliveries d"
        " JOIN editions e ON e.id = d.edition_id"
        " JOIN events ev ON ev.subscriber_id = d.subscriber_id"
        " WHERE d.edition_id = ? AND ev.kind = 'unsubscribed'"
        " AND ev.at >= COALESCE(e.started_at, e.created_at)",
        [edition_id],
    ).fetchone()
    return int(row[0])


def category_sets(db: sqlite_utils.Database, frequency: str) -> int:
    """Distinct category sets among active readers of ``frequency``: the content variants
    a send renders at least (returning readers may split a set by their last cutoff)."""
    row = db.execute(
        """
        SELECT COUNT(DISTINCT categories) FROM (
            SELECT group_concat(category_id) AS categories FROM (
                SELECT x.subscriber_id, x.category_id FROM subscriptions x
                JOIN subscribers s ON s.id = x.subscriber_id
                WHERE s.status = 'active' AND s.frequency = ?
                ORDER BY x.subscriber_id, x.category_id
            ) GROUP BY subscriber_id
        )
        """,
        [frequency],
    ).fetchone()
    return int(row[0])


def article_categories(db: sqlite_utils.Database, article_id: str) -> list[int] | None:
    """The categories an article is filed under; None when there is no such article."""
    if db.execute("SELECT 1 FROM articles WHERE id = ?", [article_id]).fetchone() is None:
        return None
    rows = db.execute(
        "SELECT category_id FROM article_categories WHERE article_id = ? ORDER BY category_id",
        [article_id],
    ).fetchall()
    return [int(r[0]) for r in rows]


def _steerable(db: sqlite_utils.Database, edition_id: int) -> bool:
    row = db.execute(
        "SELECT 1 FROM editions WHERE id = ? AND status IN ('draft', 'approved', 'held')",
        [edition_id],
    ).fetchone()
    return row is not None


def _change(
    db: sqlite_utils.Database,
    edition_id: int,
    now: datetime,
    editor: str,
    action: str,
    detail: str,
) -> None:
    db.execute(
        "INSERT INTO edition_changes (edition_id, at, editor, action, detail)"
        " VALUES (?, ?, ?, ?, ?)",
        [edition_id, to_db(now), editor, action, detail[:500]],
    )


def _json(values: list[str]) -> str:
    return json.dumps(values)


def _at(value: str) -> datetime:
    at = from_db(value)
    if at is None:
        raise ValueError("missing time")
    return at


def search_subscribers(db: sqlite_utils.Database, prefix: str, limit: int = 50) -> list[int]:
    """Ids of subscribers whose address starts with ``prefix`` (any case), by address:
    the NOCASE index answers it, however many readers there are."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = db.execute(
        "SELECT id FROM subscribers WHERE email LIKE ? ESCAPE '\\' ORDER BY email LIMIT ?",
        [escaped + "%", limit],
    ).fetchall()
    return [int(r[0]) for r in rows]


def deliveries_of_reader(
    db: sqlite_utils.Database, subscriber_id: int, limit: int = 50
) -> list[tuple[int, str, str, str, str, int]]:
    """(edition id, frequency, period, delivery status, reply, article count), newest first."""
    rows = db.execute(
        "SELECT e.id, e.frequency, e.period, d.status, d.reply, json_array_length(d.article_ids)"
        " FROM deliveries d JOIN editions e ON e.id = d.edition_id"
        " WHERE d.subscriber_id = ? ORDER BY e.ends_at DESC LIMIT ?",
        [subscriber_id, limit],
    ).fetchall()
    return [(int(r[0]), r[1], r[2], r[3], r[4], int(r[5] or 0)) for r in rows]
