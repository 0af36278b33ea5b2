"""The send loop against a real SMTP server (aiosmtpd on loopback) and a real SQLite file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from digest.app import App
from digest.config import Settings
from digest.deliver.report import SendReport
from digest.deliver.smtp import SmtpTransport
from digest.errors import SendLockedError
from digest.store import Store, open_db
from digest.store import editions as store
from digest.store.subscribers import get_subscriber_by_email, set_status
from tests.builders import NOW, add_articles, article, make_db, send_at, settings_for, subscribe
from tests.relay import Relay, running_relay


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as r:
        yield r


def _setup(tmp_path: Path) -> Path:
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    add_articles(
        db,
        [
            article("o1", ("Opioid Drugs",), NOW - timedelta(days=1)),
            article("o2", ("Opioid Drugs", "Courts"), NOW - timedelta(days=2)),
            article("c1", ("Consumer Safety",), NOW - timedelta(days=3)),
            article("k1", ("Courts",), NOW - timedelta(days=10)),  # outside the look-back
        ],
        imported=NOW - timedelta(days=1, hours=1),
    )
    subscribe(db, "ana@example.com", ("Opioid Drugs",), name="Ana Núñez")
    subscribe(db, "bo@example.com", ("Opioid Drugs", "Courts"))
    subscribe(db, "cy@example.com", ("Consumer Safety",))
    subscribe(db, "dee@example.com", ("Courts",))  # o2 only
    gone = subscribe(db, "gone@example.com", ("Opioid Drugs",))
    set_status(db, gone, "unsubscribed", NOW - timedelta(days=2), "test")
    dead = subscribe(db, "dead@example.com", ("Opioid Drugs",))
    set_status(db, dead, "bounced", NOW - timedelta(days=2), "test")
    pending = subscribe(db, "wait@example.com", ("Opioid Drugs",))
    set_status(db, pending, "pending", NOW - timedelta(days=2), "test")
    db.close()
    return path


def _send(path: Path, relay: Relay, at: datetime, **sending: Any) -> SendReport:
    settings = settings_for(path, relay.url, **sending)
    db = open_db(path)
    report = send_at(db, settings, at)
    db.close()
    return report


def _app(db: sqlite_utils.Database, settings: Settings) -> App:
    """The application core over ``db``, its clock stopped at NOW, sending to the relay in
    ``settings``."""
    return App(
        settings,
        Store.adopt(db),
        clock=lambda: NOW,
        transports=lambda: SmtpTransport(settings.smtp.parsed),
    )


def _titles(relay: Relay) -> dict[str, list[str]]:
    out = {}
    for rcpt, items in relay.by_recipient().items():
        assert len(items) == 1, f"{rcpt} got {len(items)} messages"
        text = items[0].message.get_body(("plain",))
        assert text is not None
        body = text.get_content()
        out[rcpt] = sorted(
            t for t in ("Article o1", "Article o2", "Article c1", "Article k1") if t in body
        )
    return out


def test_each_active_subscriber_gets_exactly_their_new_articles(
    tmp_path: Path, relay: Relay
) -> None:
    path = _setup(tmp_path)
    report = _send(path, relay, NOW)
    assert report.status == "complete"
    assert _titles(relay) == {
        "ana@example.com": ["Article o1", "Article o2"],
        "bo@example.com": ["Article o1", "Article o2"],
        "cy@example.com": ["Article c1"],
        "dee@example.com": ["Article o2"],
    }
    assert (report.sent, report.skipped, report.failed) == (4, 0, 0)
    to = relay.by_recipient()["ana@example.com"][0].message["To"]
    assert to.addresses[0].display_name == "Ana Núñez"

    # Running it again for the same (complete) edition sends nothing.
    again = _send(path, relay, NOW + timedelta(hours=1))
    assert again.status == "already-complete"
    assert len(relay.received) == 4

    # A week later only the newer articles go out; dee has nothing new and is skipped.
    db = open_db(path)
    add_articles(
        db,
        [article("o3", ("Opioid Drugs",), NOW + timedelta(days=3))],
        imported=NOW + timedelta(days=3),
    )
    db.close()
    relay.received.clear()
    later = _send(path, relay, NOW + timedelta(days=7))
    assert later.period == "2026-W49"
    assert _titles(relay) == {"ana@example.com": [], "bo@example.com": []}
    assert all(
        "Article o3" in i.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for i in relay.received
    )
    assert (later.sent, later.skipped) == (2, 2)


def test_dry_run_changes_nothing(tmp_path: Path, relay: Relay) -> None:
    path = _setup(tmp_path)
    before = path.read_bytes()
    db = open_db(path)
    settings = settings_for(path, relay.url)
    report = _app(db, settings).dry_run("weekly", NOW)
    db.close()
    assert (report.recipients, report.messages, report.skipped) == (4, 4, 0)
    assert report.articles_per_category == {"Consumer Safety": 1, "Courts": 1, "Opioid Drugs": 2}
    # Two variants (ana/bo share one), one MJML compile each.
    assert report.compiles == report.variants == 3
    assert relay.received == []
    assert path.read_bytes() == before
    assert (
        not Path(str(path) + "-wal").exists()
        or open_db(path).execute("SELECT COUNT(*) FROM editions").fetchone()[0] == 0
    )


def test_transient_replies_are_retried(tmp_path: Path, relay: Relay) -> None:
    path = _setup(tmp_path)
    relay.on_data = lambda rcpt: "451 4.3.0 try again later" if relay.attempts[rcpt] < 3 else None
    report = _send(path, relay, NOW, max_attempts=4)
    assert report.status == "complete"
    assert report.sent == 4 and report.retried == 8
    assert len(relay.received) == 4


def test_transient_out_of_attempts_is_deferred_and_resumable(tmp_path: Path, relay: Relay) -> None:
    path = _setup(tmp_path)
    relay.on_data = lambda rcpt: "451 4.3.0 busy" if rcpt == "cy@example.com" else None
    report = _send(path, relay, NOW, max_attempts=2)
    assert report.status == "incomplete" and report.deferred == 1 and report.sent == 3
    relay.on_data = lambda rcpt: None
    resumed = _send(path, relay, NOW)
    assert resumed.status == "complete" and resumed.sent == 1
    assert sorted(relay.by_recipient()) == [
        "ana@example.com",
        "bo@example.com",
        "cy@example.com",
        "dee@example.com",
    ]


def test_5_1_1_bounces_and_suppresses_the_address(tmp_path: Path, relay: Relay) -> None:
    path = _setup(tmp_path)
    relay.on_rcpt = lambda a: "550 5.1.1 no such user" if a.startswith("bo@") else None
    report = _send(path, relay, NOW)
    assert report.status == "complete"
    assert (report.sent, report.bounced) == (3, 1)
    db = open_db(path)
    bo = get_subscriber_by_email(db, "bo@example.com")
    assert bo is not None and bo.status == "bounced"
    events = db.execute(
        "SELECT kind, detail FROM events WHERE subscriber_id = ? ORDER BY id", [bo.id]
    ).fetchall()
    assert events[-1][0] == "bounced" and "5.1.1" in events[-1][1]


def test_dropped_connection_is_retried_once_delivered_once(tmp_path: Path, relay: Relay) -> None:
    path = _setup(tmp_path)
    relay.drop_on_data = lambda rcpt: rcpt == "ana@example.com" and relay.attempts[rcpt] == 1
    report = _send(path, relay, NOW)
    assert report.status == "complete" and report.sent == 4 and report.retried == 1
    assert len(relay.by_recipient()["ana@example.com"]) == 1


def test_relay_rejecting_everything_stops_the_send(tmp_path: Path, relay: Relay) -> None:
    path = _setup(tmp_path)
    relay.on_data = lambda rcpt: "554 5.7.1 relaying denied"
    report = _send(path, relay, NOW, max_consecutive_failures=2, concurrency=1)
    assert report.status == "stopped"
    assert "refused 2 messages in a row" in report.stop_reason
    # A refusal of the sender is not a verdict on the readers: nobody failed.
    assert report.failed == 0
    # 5.7.x is the sender's problem: a warning, not held against the readers.
    assert any("policy reasons (x.7.x)" in w for w in report.warnings)
    db = open_db(path)
    assert (
        db.execute("SELECT COUNT(*) FROM subscribers WHERE status = 'bounced'").fetchone()[0] == 1
    )  # only the one made bounced in _setup
    edition = store.find_edition(db, "weekly", "2026-W48")
    assert edition is not None and edition.status == "sending"
    counts = store.delivery_counts(db, edition.id)
    assert counts["pending"] == 4 and counts["failed"] == 0
    relay.on_data = lambda rcpt: None
    resumed = _send(path, relay, NOW)
    # The relay fixed, the next send delivers everyone the refusals left out.
    assert resumed.status == "complete" and resumed.sent == 4


def test_a_second_sender_on_the_same_edition_is_refused(tmp_path: Path, relay: Relay) -> None:
    path = _setup(tmp_path)
    db = open_db(path)
    settings = settings_for(path, relay.url)

    edition = _app(db, settings).open_edition("weekly", NOW)
    # A live process (pid 1 on this host) holds the lease.
    import socket

    db.execute(
        "INSERT INTO send_locks (edition_id, owner, pid, heartbeat_at, generation)"
        " VALUES (?, ?, 1, ?, 1)",
        [edition.id, f"{socket.gethostname()}:1", "2026-11-28T09:00:00Z"],
    )
    with pytest.raises(SendLockedError, match="being sent by another process"):
        _app(db, settings).send("weekly", NOW)
    assert relay.received == []


def test_stop_event_leaves_the_rest_pending(tmp_path: Path, relay: Relay) -> None:
    path = _setup(tmp_path)
    stop = threading.Event()

    def stop_after_first(rcpt: str) -> None:
        stop.set()

    relay.on_data = stop_after_first
    settings = settings_for(path, relay.url, concurrency=1)
    db = open_db(path)
    report = _app(db, settings).send("weekly", NOW, stop=stop)
    assert report.status == "stopped"
    assert 1 <= report.sent < 4
    # Someone who joins after the edition started is not added to it.
    subscribe(db, "late@example.com", ("Opioid Drugs",), now=NOW)
    db.close()
    resumed = _send(path, relay, NOW)
    assert resumed.status == "complete"
    assert sorted(relay.by_recipient()) == [
        "ana@example.com",
        "bo@example.com",
        "cy@example.com",
        "dee@example.com",
    ]
    assert all(len(v) == 1 for v in relay.by_recipient().values())
