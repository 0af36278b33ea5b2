"""One commit a message (digest.app.sending, EditionRun._sent_then_next): an acceptance and
the mark of the sender's next message share a transaction, and a stop that comes after that
commit puts the next message back to 'pending' instead of sending it or leaving it 'sending'.

Where the stop lands is fixed, not timed: the relay holds its reply to the first message
until the second is queued, and the clock (the one thing a test may stand in for) sets the
stop the first time a sender thread asks for the time after the reply."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from digest.app import App
from digest.app.sending import EditionRun
from digest.deliver.compose import Job
from digest.deliver.report import SendReport
from digest.deliver.smtp import SmtpTransport
from digest.store import Store, open_db
from digest.store import editions as store
from tests.builders import NOW, add_articles, article, make_db, settings_for, subscribe
from tests.relay import running_relay

TIMEOUT = 30.0  # a safety net: reaching it fails the test


def test_a_stop_after_the_shared_commit_puts_the_next_message_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    yesterday = NOW - timedelta(days=1)
    add_articles(db, [article("o1", ("Courts",), yesterday)], imported=yesterday)
    emails = [f"reader{i}@example.com" for i in range(3)]
    for email in emails:
        subscribe(db, email, ("Courts",))
    db.close()

    stop = threading.Event()
    replied = threading.Event()
    handed = threading.Semaphore(0)
    # Observe (not replace) each hand-over of a job to the senders: progress now counts
    # outcomes only, so it no longer says when a job is queued.
    hand_over = EditionRun._hand_over

    def observed(run: EditionRun, job: Job, threads: list[threading.Thread]) -> bool:
        queued = hand_over(run, job, threads)
        handed.release()
        return queued

    monkeypatch.setattr(EditionRun, "_hand_over", observed)

    def clock() -> datetime:
        # After the held reply, the first sender-thread call is the shared commit's.
        if replied.is_set() and threading.current_thread().name.startswith("digest-sender"):
            stop.set()
        return NOW

    with running_relay() as relay:
        relay.hold_from = 1
        settings = settings_for(path, relay.url, concurrency=1)
        app = App(
            settings,
            Store(path),
            clock=clock,
            transports=lambda: SmtpTransport(settings.smtp.parsed, timeout=5),
        )
        reports: list[SendReport] = []
        sending = threading.Thread(
            target=lambda: reports.append(app.send("weekly", NOW, stop=stop))
        )
        sending.start()
        relay.wait_for_held(1, TIMEOUT)
        # Two jobs handed over (concurrency 1): the second is queued.
        assert handed.acquire(timeout=TIMEOUT) and handed.acquire(timeout=TIMEOUT)
        replied.set()
        relay.release()
        sending.join(TIMEOUT)
        assert not sending.is_alive()
        app.close()
        assert [r.recipients for r in relay.received] == [[emails[0]]]  # nothing after

    (report,) = reports
    assert report.status == "stopped" and report.sent == 1
    db = open_db(path)
    edition = store.find_edition(db, "weekly", "2026-W48")
    assert edition is not None
    counts = store.delivery_counts(db, edition.id)
    assert (counts["sent"], counts["sending"], counts["pending"]) == (1, 0, 2)
    rows = {row.email: row for row in store.deliveries_of(db, edition.id)}
    # The second reader was marked in the shared commit (its Message-ID is on record), then
    # put back: 'pending', not sent, not counted as in flight by the next run.
    assert rows[emails[1]].status == "pending" and rows[emails[1]].message_id
    assert rows[emails[2]].status == "pending" and not rows[emails[2]].message_id
    db.close()
