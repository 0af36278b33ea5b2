"""SQL for the reports (issue 15, docs/reports.md): what happened to an edition's deliveries,
per category; the weekly trend; the sign-up funnel. Clicks and opens are read through
digest/store/tracking.py, never here.

A delivery's categories are its ``group_key`` (the reader's category ids when the edition
started), so a reader of two categories counts once in each: per-category figures add up to
more than the edition's.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlite_utils

from digest.clock import from_db, to_db
from digest.store.bounces import _POLICY_REPLY, _SENT_AFTER_ALL
from digest.store.connection import named

# A delivery's outcome as the report names it: a failure whose reason says no message could
# carry the address (digest/app/sending.py) is "undeliverable", apart from relay refusals.
_OUTCOME = (
    "CASE WHEN d.status = 'failed' AND d.reply LIKE 'undeliverable:%' THEN 'undeliverable'"
    " ELSE d.status END"
)
OUTCOMES = ("pending", "sending", "sent", "deferred", "failed", "undeliverable", "skipped")
BOUNCE_KINDS = ("hard", "soft", "complaint", "policy")
# SQL the bounce counts already use (digest/store/bounces.py): one definition of a bounce.
# Each reader once per kind, exactly as `digest editions show` counts them
# (digest/store/bounces.py bounce_counts).
_BOUNCE_KINDS = f"""
    SELECT b.kind, b.subscriber_id FROM bounces b
    WHERE b.edition_id = :e AND NOT ({_SENT_AFTER_ALL})
    UNION
    SELECT 'hard', d.subscriber_id FROM deliveries d
    WHERE d.edition_id = :e AND d.status = 'bounced'
    UNION
    SELECT CASE WHEN d.status = 'failed' AND {_POLICY_REPLY} THEN 'policy' ELSE 'soft' END,
        d.subscriber_id
    FROM deliveries d WHERE d.edition_id = :e AND d.status IN ('failed', 'deferred')
"""
# Unsubscribes through a link of this edition, at most ``days`` after it started.
_UNSUBSCRIBED = """
    SELECT DISTINCT ev.subscriber_id FROM events ev JOIN editions e ON e.id = ev.edition_id
    WHERE ev.edition_id = :e AND ev.kind = 'unsubscribed'
        AND ev.at < strftime('%Y-%m-%dT%H:%M:%SZ',
                             COALESCE(e.started_at, e.created_at), :window)
"""


class Facts(NamedTuple):
    """One edition's figures, for the whole edition (category_id None) or one category."""

    category_id: int | None
    outcomes: dict[str, int]  # deliveries by OUTCOMES, plus 'bounced' (SMTP-time 5.1.x)
    bounces: dict[str, int]  # hard, soft, complaint, policy: readers once per kind
    unsubscribed: int


def edition_facts(db: sqlite_utils.Database, edition_id: int, window_days: int) -> list[Facts]:
    """The edition's figures first (category_id None), then one per category it went to."""
    params = {"e": edition_id, "window": f"+{window_days} days"}
    outcomes: dict[int | None, dict[str, int]] = {None: {}}
    bounces: dict[int | None, dict[str, int]] = {}
    unsubscribed: dict[int | None, int] = {}
    for category, outcome, count in db.execute(
        f"""
        SELECT NULL, {_OUTCOME}, COUNT(*) FROM deliveries d WHERE d.edition_id = :e
        GROUP BY 2
        UNION ALL
        SELECT CAST(k.value AS INTEGER), {_OUTCOME}, COUNT(*)
        FROM deliveries d, json_each('[' || d.group_key || ']') k
        WHERE d.edition_id = :e GROUP BY 1, 2
        """,
        params,
    ).fetchall():
        outcomes.setdefault(category, {})[outcome] = int(count)
    for category, kind, count in db.execute(
        f"""
        WITH per_kind (kind, subscriber_id) AS ({_BOUNCE_KINDS})
        SELECT NULL, kind, COUNT(*) FROM per_kind GROUP BY 2
        UNION ALL
        SELECT CAST(k.value AS INTEGER), p.kind, COUNT(*)
        FROM per_kind p JOIN deliveries d ON d.edition_id = :e
            AND d.subscriber_id = p.subscriber_id,
            json_each('[' || d.group_key || ']') k
        GROUP BY 1, 2
        """,
        params,
    ).fetchall():
        bounces.setdefault(category, {})[kind] = int(count)
    for category, count in db.execute(
        f"""
        WITH left_us (subscriber_id) AS ({_UNSUBSCRIBED})
        SELECT NULL, COUNT(*) FROM left_us
        UNION ALL
        SELECT CAST(k.value AS INTEGER), COUNT(*)
        FROM left_us u JOIN deliveries d ON d.edition_id = :e
            AND d.subscriber_id = u.subscriber_id,
            json_each('[' || d.group_key || ']') k
        GROUP BY 1
        """,
        params,
    ).fetchall():
        unsubscribed[category] = int(count)
    categories = sorted(c for c in outcomes.keys() | bounces.keys() if c is not None)
    return [
        Facts(
            category_id=c,
            outcomes=dict.fromkeys(OUTCOMES, 0) | {"bounced": 0} | outcomes.get(c, {}),
            bounces=dict.fromkeys(BOUNCE_KINDS, 0) | bounces.get(c, {}),
            unsubscribed=unsubscribed.get(c, 0),
        )
        for c in (None, *categories)
    ]


class ArticleTitle(NamedTuple):
    id: str
    title: str
    url: str


def article_titles(db: sqlite_utils.Database, article_ids: list[str]) -> dict[str, ArticleTitle]:
    """Titles for the articles a report names (an article deleted since is left out)."""
    if not article_ids:
        return {}
    marks = ",".join("?" * len(article_ids))
    rows = named(
        db, f"SELECT id, title, url FROM articles WHERE id IN ({marks})", article_ids
    ).fetchall()
    return {r["id"]: ArticleTitle(r["id"], r["title"], r["url"]) for r in rows}


def latest_sent_edition(db: sqlite_utils.Database) -> int | None:
    """The edition whose send started last among those sent (or being sent)."""
    row = db.execute(
        "SELECT id FROM editions WHERE status IN ('sent', 'sending') AND started_at IS NOT NULL"
        " ORDER BY started_at DESC, id DESC LIMIT 1"
    ).fetchone()
    return int(row[0]) if row else None


def recent_sent_editions(db: sqlite_utils.Database, limit: int) -> list[int]:
    """The last ``limit`` editions whose send started, oldest first."""
    rows = db.execute(
        "SELECT id FROM (SELECT id, started_at FROM editions WHERE status IN ('sent', 'sending')"
        " AND started_at IS NOT NULL ORDER BY started_at DESC, id DESC LIMIT ?)"
        " ORDER BY started_at, id",
        [limit],
    ).fetchall()
    return [int(r[0]) for r in rows]


class StartedEdition(NamedTuple):
    id: int
    frequency: str
    week: str  # the Monday (UTC) of the week its send started


def editions_started_since(db: sqlite_utils.Database, since: datetime) -> list[StartedEdition]:
    """Every edition whose send started since ``since``, in that order."""
    rows = db.execute(
        "SELECT id, frequency, date(started_at, 'weekday 0', '-6 days') FROM editions"
        " WHERE started_at >= ? AND status IN ('sent', 'sending') ORDER BY started_at",
        [to_db(since)],
    ).fetchall()
    return [StartedEdition(int(r[0]), str(r[1]), str(r[2])) for r in rows]


# The Monday (UTC) of the week a stored timestamp falls in: 'weekday 0' moves to the coming
# Sunday (or stays on one), six days back is that week's Monday.
_WEEK = "date({}, 'weekday 0', '-6 days')"


def weekly_readers(db: sqlite_utils.Database, since: datetime) -> list[tuple[str, int, int]]:
    """(week's Monday, category id, distinct readers sent a digest carrying it that week)."""
    rows = db.execute(
        f"""
        SELECT {_WEEK.format("e.started_at")}, CAST(k.value AS INTEGER),
            COUNT(DISTINCT d.subscriber_id)
        FROM editions e JOIN deliveries d ON d.edition_id = e.id AND d.status = 'sent',
            json_each('[' || d.group_key || ']') k
        WHERE e.started_at >= ? GROUP BY 1, 2
        """,
        [to_db(since)],
    ).fetchall()
    return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]


def weekly_unsubscribes(db: sqlite_utils.Database, since: datetime) -> list[tuple[str, int, int]]:
    """(week's Monday, category id, readers who unsubscribed that week), by the categories
    they had when they left (their subscriptions are kept)."""
    rows = db.execute(
        f"""
        SELECT {_WEEK.format("ev.at")}, s.category_id, COUNT(DISTINCT ev.subscriber_id)
        FROM events ev JOIN subscriptions s ON s.subscriber_id = ev.subscriber_id
        WHERE ev.kind = 'unsubscribed' AND ev.at >= ? GROUP BY 1, 2
        """,
        [to_db(since)],
    ).fetchall()
    return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]


class SignupRow(NamedTuple):
    """One reader's web sign-ups within one week: the first asked at, and when confirmed."""

    week: str  # the week's Monday
    first_at: datetime
    confirmed_at: datetime | None


def weekly_signups(db: sqlite_utils.Database, since: datetime) -> list[SignupRow]:
    """Sign-ups that mailed a confirm link, one row per reader and week (asking for a new
    link the same week is the same sign-up)."""
    rows = db.execute(
        f"""
        SELECT {_WEEK.format("created_at")}, MIN(created_at), MIN(confirmed_at)
        FROM signup_requests WHERE outcome = 'confirm' AND created_at >= ?
        GROUP BY 1, subscriber_id ORDER BY 1, 2
        """,
        [to_db(since)],
    ).fetchall()
    out = []
    for week, first, confirmed in rows:
        first_at = from_db(first)
        assert first_at is not None  # created_at is NOT NULL
        out.append(SignupRow(str(week), first_at, from_db(confirmed)))
    return out
