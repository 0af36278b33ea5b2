"""App.edition_stats over every delivery outcome, and the 7-day unsubscribe window at its
edges, on a real SQLite file (the send itself is in tests/test_reports.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from digest.errors import NotFoundError
from digest.models import BounceKind, BounceRecord
from digest.store import bounces as bounce_store
from digest.store import editions as edition_store
from digest.store import subscribers as subscribers_store
from tests.builders import NOW, app_for, make_db, subscribe

OUTCOMES = [
    ("sent@example.com", "sent", "250 2.0.0 OK"),
    ("deferred@example.com", "deferred", "451 4.3.0 try later"),
    ("failed@example.com", "failed", "550 5.2.0 mailbox disabled"),
    ("utf8@example.com", "failed", "undeliverable: relay lacks SMTPUTF8"),
    ("policy@example.com", "failed", "550 5.7.1 rejected by policy"),
    ("gone@example.com", "bounced", "550 5.1.1 no such user"),
    ("skipped@example.com", "skipped", "nothing new"),
    ("pending@example.com", "pending", ""),
    ("edge@example.com", "sent", "250 2.0.0 OK"),
    ("inside@example.com", "sent", "250 2.0.0 OK"),
    ("spam@example.com", "sent", "250 2.0.0 OK"),
]


def test_every_outcome_is_counted_once_and_the_window_is_seven_days(tmp_path: Path) -> None:
    db = make_db(tmp_path / "r.db")
    ids = {email: subscribe(db, email, ("Courts",)) for email, _, _ in OUTCOMES}
    edition = edition_store.create_edition(
        db,
        frequency="weekly",
        period="2026-W48",
        starts_at=NOW - timedelta(days=7),
        ends_at=NOW,
        now=NOW,
    )
    for email, status, reply in OUTCOMES:
        if status != "pending":
            edition_store.mark_delivery(db, edition.id, ids[email], status, NOW, reply=reply)
    bounce_store.record_bounce(
        db, BounceRecord(ids["spam@example.com"], edition.id, BounceKind.COMPLAINT, NOW)
    )
    # Exactly 7 days after the send started is outside; a second before is inside.
    for email, at in (
        ("edge@example.com", NOW + timedelta(days=7)),
        ("inside@example.com", NOW + timedelta(days=7, seconds=-1)),
    ):
        subscribers_store.set_status(
            db, ids[email], "unsubscribed", at, "one-click", edition_id=edition.id
        )
    stats = app_for(db).edition_stats(edition.id)
    d = stats.deliveries
    assert (d.recipients, d.sent, d.deferred, d.failed, d.undeliverable) == (11, 4, 1, 2, 1)
    assert (d.skipped, d.pending) == (1, 1)
    # Soft: the deferred and the 5.2.0 failure; the 5.7.1 is the sender's problem (policy);
    # the SMTP-time 5.1.1 is hard; the undeliverable one is failed, and soft like any failure.
    assert (d.bounced_hard, d.bounced_soft, d.policy, d.complained) == (1, 3, 1, 1)
    assert d.unsubscribed == 1
    (courts,) = stats.categories
    assert courts.category == "Courts" and courts.deliveries == d
    with pytest.raises(NotFoundError, match=r"^no edition with id 999 "):
        app_for(db).edition_stats(999)
