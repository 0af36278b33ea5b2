"""digest.store.subscribers against a real SQLite file."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from digest.models import Event
from digest.store import open_db
from digest.store import subscribers as store
from digest.store.categories import ensure_category

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    database = open_db(tmp_path / "test.db")
    for name in ("Courts", "Opioid Drugs", "Consumer Safety"):
        ensure_category(database, name)
    return database


def add(db: sqlite_utils.Database, email: str, *categories: int, status: str = "active") -> int:
    subscriber_id = store.insert_subscriber(
        db, store.NewSubscriber(email=email, status=status, source="test"), NOW
    )
    store.set_categories(db, subscriber_id, categories or (1,))
    return subscriber_id


def test_insert_computes_hash_and_first_event(db: sqlite_utils.Database) -> None:
    subscriber_id = add(db, "Ana@example.com", 3, 1)
    row = db.execute("SELECT email, email_hash, confirmed_at FROM subscribers").fetchone()
    assert row == (
        "Ana@example.com",
        hashlib.sha256(b"ana@example.com").hexdigest(),
        "2026-11-28T10:00:00Z",
    )
    assert store.events_for(db, subscriber_id) == [
        Event(subscriber_id=subscriber_id, kind="subscribed", at=NOW, source="test")
    ]


def test_get_by_email_is_case_insensitive_including_non_ascii(db: sqlite_utils.Database) -> None:
    subscriber_id = add(db, "Zoë@example.com", 3, 1)
    found = store.get_subscriber_by_email(db, "ZOË@EXAMPLE.COM")
    assert found is not None
    assert (found.id, found.email, found.categories) == (
        subscriber_id,
        "Zoë@example.com",
        ("Consumer Safety", "Courts"),
    )
    assert store.get_subscriber_by_email(db, "nobody@example.com") is None
    assert store.get_subscriber(db, 999) is None


def test_pending_insert_is_not_confirmed(db: sqlite_utils.Database) -> None:
    subscriber_id = add(db, "p@example.com", status="pending")
    subscriber = store.get_subscriber(db, subscriber_id)
    assert subscriber is not None and subscriber.confirmed_at is None
    assert [e.kind for e in store.events_for(db, subscriber_id)] == ["pending"]


def test_iter_subscribers_pages_and_filters(db: sqlite_utils.Database) -> None:
    ids = [add(db, f"u{i}@example.com", 1 if i % 2 else 2) for i in range(7)]
    store.set_status(db, ids[3], "unsubscribed", NOW, "test")
    every = list(store.iter_subscribers(db, page_size=2))
    assert [s.id for s in every] == ids
    courts = list(store.iter_subscribers(db, category_id=1, page_size=2))
    assert [s.email for s in courts] == ["u1@example.com", "u3@example.com", "u5@example.com"]
    assert all(s.categories == ("Courts",) for s in courts)
    active_courts = store.iter_subscribers(db, category_id=1, status="active", page_size=1)
    assert [s.email for s in active_courts] == ["u1@example.com", "u5@example.com"]


def test_set_status_writes_events_and_timestamps(db: sqlite_utils.Database) -> None:
    subscriber_id = add(db, "p@example.com", status="pending")
    assert store.set_status(db, subscriber_id, "active", LATER, "web", "clicked link")
    assert not store.set_status(db, subscriber_id, "active", LATER, "web")  # no change
    later = LATER + timedelta(hours=1)
    assert store.set_status(db, subscriber_id, "bounced", later, "bounces", "550 5.1.1")
    subscriber = store.get_subscriber(db, subscriber_id)
    assert subscriber is not None
    assert (subscriber.status, subscriber.confirmed_at, subscriber.unsubscribed_at) == (
        "bounced",
        LATER,
        later,
    )
    assert [(e.kind, e.source, e.detail) for e in store.events_for(db, subscriber_id)] == [
        ("pending", "test", ""),
        ("confirmed", "web", "clicked link"),
        ("bounced", "bounces", "550 5.1.1"),
    ]
    store.set_status(db, subscriber_id, "active", later, "cli")
    reactivated = store.get_subscriber(db, subscriber_id)
    assert reactivated is not None and reactivated.unsubscribed_at is None
    with pytest.raises(ValueError):
        store.set_status(db, subscriber_id, "sleeping", NOW, "test")


def test_forget_erases_but_keeps_the_address_suppressed(db: sqlite_utils.Database) -> None:
    subscriber_id = add(db, "Ana@example.com", 1, 2)
    store.update_subscriber(db, subscriber_id, name="Ana Lima", timezone="Europe/Lisbon")
    store.record_event(db, subscriber_id, "soft_bounce", NOW, "bounces", "452 Ana@example.com full")
    # Relay replies and bounce diagnostics quote addresses too.
    db.execute(
        "INSERT INTO editions (frequency, period, starts_at, ends_at, created_at)"
        " VALUES ('weekly', '2026-W48', '2026-11-21T00:00:00Z', '2026-11-28T00:00:00Z',"
        " '2026-11-28T00:00:00Z')"
    )
    db.execute(
        "INSERT INTO deliveries (edition_id, subscriber_id, status, reply, updated_at)"
        " VALUES (1, ?, 'deferred', '452 4.2.2 Ana@example.com over quota', ?)",
        [subscriber_id, "2026-11-28T00:00:00Z"],
    )
    db.execute(
        "INSERT INTO bounces (subscriber_id, kind, diagnostic, at)"
        " VALUES (?, 'soft', '452 Ana@example.com full', '2026-11-28T00:00:00Z')",
        [subscriber_id],
    )
    assert not store.is_suppressed(db, "ana@example.com")
    store.forget(db, subscriber_id, LATER, "cli")
    assert db.execute("SELECT reply FROM deliveries").fetchall() == [("",)]
    assert db.execute("SELECT diagnostic FROM bounces").fetchall() == [("",)]
    row = db.execute(
        "SELECT email, name, timezone, consent_ip, status FROM subscribers WHERE id = ?",
        [subscriber_id],
    ).fetchone()
    assert row == (None, "", "UTC", "", "forgotten")
    assert store.category_ids_for(db, subscriber_id) == []
    assert all(e.detail == "" for e in store.events_for(db, subscriber_id))
    assert store.is_suppressed(db, "ANA@example.com")
    forgotten = store.get_subscriber_by_email(db, "ana@example.com")
    assert forgotten is not None and forgotten.email == ""
    assert store.suppressed_hashes(
        db, [store.email_hash("ana@example.com"), store.email_hash("x@example.com")]
    ) == {store.email_hash("ana@example.com")}


def test_set_categories_keeps_order_and_ignores_repeats(db: sqlite_utils.Database) -> None:
    subscriber_id = add(db, "a@example.com")
    store.set_categories(db, subscriber_id, [3, 1, 3])
    assert store.category_ids_for(db, subscriber_id) == [3, 1]
