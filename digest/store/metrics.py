"""SQL for /metrics: counts read at scrape time from the rows every process writes (the
scheduler, `digest send`, the web pages), so the figures are the same whichever process is
scraped and survive restarts. Each query reads an index or a small table; the event counts
are read incrementally by id (see digest.app.metrics)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlite_utils

from digest.clock import from_db, to_db


class EditionTimes(NamedTuple):
    id: int
    frequency: str
    status: str
    created_at: datetime | None
    completed_at: datetime | None


def editions(db: sqlite_utils.Database) -> list[EditionTimes]:
    rows = db.execute(
        "SELECT id, frequency, status, created_at, completed_at FROM editions ORDER BY id"
    ).fetchall()
    return [EditionTimes(r[0], r[1], r[2], from_db(r[3]), from_db(r[4])) for r in rows]


def event_counts(db: sqlite_utils.Database, after_id: int) -> tuple[int, dict[str, int]]:
    """Events with an id above ``after_id``, counted by kind, and the highest id read."""
    rows = db.execute(
        "SELECT kind, COUNT(*), MAX(id) FROM events WHERE id > ? GROUP BY kind", [after_id]
    ).fetchall()
    top = max((int(r[2]) for r in rows), default=after_id)
    return top, {str(r[0]): int(r[1]) for r in rows}


class WebhookCounts(NamedTuple):
    delivered: int
    waiting: int
    given_up: int
    failed_attempts: int


def webhook_counts(db: sqlite_utils.Database) -> WebhookCounts:
    row = db.execute(
        """
        SELECT COALESCE(SUM(delivered_at IS NOT NULL), 0),
            COALESCE(SUM(delivered_at IS NULL AND given_up_at IS NULL), 0),
            COALESCE(SUM(given_up_at IS NOT NULL), 0),
            COALESCE(SUM(attempts) - SUM(delivered_at IS NOT NULL), 0)
        FROM webhook_deliveries
        """
    ).fetchone()
    return WebhookCounts(*(int(v) for v in row))


def record_job_run(db: sqlite_utils.Database, job: str, ok: bool, now: datetime) -> None:
    db.execute(
        """
        INSERT INTO job_runs (job, runs, failures, last_at) VALUES (?, 1, ?, ?)
        ON CONFLICT (job) DO UPDATE SET runs = runs + 1, failures = failures + excluded.failures,
            last_at = excluded.last_at
        """,
        [job, 0 if ok else 1, to_db(now)],
    )


def job_runs(db: sqlite_utils.Database) -> list[tuple[str, int, int]]:
    rows = db.execute("SELECT job, runs, failures FROM job_runs ORDER BY job").fetchall()
    return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]
