"""SQL for outgoing webhooks: the endpoints and their outbox (webhook_deliveries), which the
triggers of migration m007_api_webhooks fill in the same transaction as each change."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import sqlite_utils

from digest.clock import from_db, to_db
from digest.models import Webhook, WebhookDelivery
from digest.store.connection import named

_DELIVERY_COLUMNS = (
    "d.id, d.webhook_id, w.url, w.secret, d.delivery_id, d.event, d.payload, d.created_at, "
    "d.attempts, d.last_status, d.last_error, d.delivered_at, d.given_up_at, d.next_attempt_at"
)


def add_webhook(
    db: sqlite_utils.Database, url: str, events: tuple[str, ...], secret: str, now: datetime
) -> int:
    cursor = db.execute(
        "INSERT INTO webhooks (url, events, secret, created_at) VALUES (?, ?, ?, ?)",
        [url, ",".join(events), secret, to_db(now)],
    )
    return int(cursor.lastrowid or 0)


def list_webhooks(db: sqlite_utils.Database) -> list[Webhook]:
    rows = named(
        db, "SELECT id, url, events, created_at FROM webhooks WHERE removed_at IS NULL ORDER BY id"
    ).fetchall()
    return [
        Webhook(
            id=r["id"],
            url=r["url"],
            events=tuple(r["events"].split(",")),
            created_at=from_db(r["created_at"]) or datetime.min,
        )
        for r in rows
    ]


def remove_webhook(db: sqlite_utils.Database, webhook_id: int, now: datetime) -> bool:
    """Stop sending to it; events already in its outbox are dropped (given up)."""
    cursor = db.execute(
        "UPDATE webhooks SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
        [to_db(now), webhook_id],
    )
    if cursor.rowcount:
        db.execute(
            "UPDATE webhook_deliveries SET given_up_at = ?, last_error = 'webhook removed' "
            "WHERE webhook_id = ? AND delivered_at IS NULL AND given_up_at IS NULL",
            [to_db(now), webhook_id],
        )
    return cursor.rowcount > 0


def claim_due(
    db: sqlite_utils.Database, now: datetime, until: datetime, limit: int
) -> list[WebhookDelivery]:
    """Up to ``limit`` deliveries due now and not claimed by another dispatcher, oldest
    first, claimed until ``until`` (call inside a transaction)."""
    at = to_db(now)
    rows = named(
        db,
        f"""
        SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
        WHERE d.delivered_at IS NULL AND d.given_up_at IS NULL AND d.next_attempt_at <= ?
            AND (d.claimed_until IS NULL OR d.claimed_until <= ?)
        ORDER BY d.next_attempt_at, d.id LIMIT ?
        """,
        [at, at, limit],
    ).fetchall()
    db.conn.executemany(
        "UPDATE webhook_deliveries SET claimed_until = ? WHERE id = ?",
        [(to_db(until), r["id"]) for r in rows],
    )
    return [_delivery(r) for r in rows]


def record_attempt(
    db: sqlite_utils.Database,
    row_id: int,
    *,
    now: datetime,
    status: int | None,
    error: str,
    delivered: bool,
    next_attempt: datetime | None,
) -> None:
    """One POST's outcome: delivered, to be retried at ``next_attempt``, or given up (None)."""
    db.execute(
        """
        UPDATE webhook_deliveries SET attempts = attempts + 1, claimed_until = NULL,
            last_status = ?, last_error = ?, delivered_at = ?, given_up_at = ?,
            next_attempt_at = COALESCE(?, next_attempt_at)
        WHERE id = ?
        """,
        [
            status,
            error[:500],
            to_db(now) if delivered else None,
            to_db(now) if not delivered and next_attempt is None else None,
            to_db(next_attempt) if next_attempt else None,
            row_id,
        ],
    )


def delivery_log(db: sqlite_utils.Database, limit: int) -> list[WebhookDelivery]:
    rows = named(
        db,
        f"""
        SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
        ORDER BY d.id DESC LIMIT ?
        """,
        [limit],
    ).fetchall()
    return [_delivery(r) for r in rows]


def _delivery(row: sqlite3.Row) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        url=row["url"],
        secret=row["secret"],
        delivery_id=row["delivery_id"],
        event=row["event"],
        payload=row["payload"],
        created_at=from_db(row["created_at"]) or datetime.min,
        attempts=row["attempts"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        delivered_at=from_db(row["delivered_at"]),
        given_up_at=from_db(row["given_up_at"]),
        next_attempt_at=from_db(row["next_attempt_at"]) or datetime.min,
    )
