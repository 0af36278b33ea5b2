"""A send under strain: another process locking the database mid-send, and a slow relay.
Both through a real `digest send` and a real relay; nobody skipped, nobody sent twice, the
counts right, no traceback."""

from __future__ import annotations

import os
import queue
import sqlite3
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import IO

from digest.store import editions as store
from digest.store import open_db
from tests.builders import NOW, add_articles, article, make_db, send_at, settings_for, subscribe
from tests.relay import running_relay

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0  # a safety net: reaching it fails the test


def _database(tmp_path: Path, readers: int) -> tuple[Path, list[str]]:
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    yesterday = NOW - timedelta(days=1)
    add_articles(db, [article("o1", ("Courts",), yesterday)], imported=yesterday)
    emails = [f"reader{i:02d}@example.com" for i in range(readers)]
    for email in emails:
        subscribe(db, email, ("Courts",))
    db.close()
    return path, emails


class Lines:
    """A subprocess's stderr, line by line, so a test can wait for a line it expects."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stderr is not None
        stream = process.stderr
        self.reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, text: str) -> None:
        while True:
            line = self.lines.get(timeout=TIMEOUT)
            self.seen.append(line)
            if text in line:
                return

    def rest(self) -> str:
        """Everything, once the process has closed its stderr."""
        self.reader.join(TIMEOUT)
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait())
        return "".join(self.seen)


def test_a_database_locked_mid_send_pauses_the_senders(tmp_path: Path) -> None:
    path, emails = _database(tmp_path, 12)
    with running_relay() as relay:
        config = tmp_path / "digest.toml"
        config.write_text(
            f'secret_key = "k"\n[smtp]\nurl = "{relay.url}"\n[sending]\nconcurrency = 2\n'
            "[database]\nbusy_timeout = 0.2\n"
        )
        relay.hold_from = 4
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        argv = ["--config", str(config), "--db", str(path), "send", "--as-of", NOW.isoformat()]
        send = subprocess.Popen(
            [sys.executable, "-m", "digest", *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stderr = Lines(send)
        relay.wait_for_held(2, TIMEOUT)
        # Another process takes the database while two messages are at the relay.
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        relay.release()
        try:
            stderr.wait_for("database is locked by another process; the send waits")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        out, _ = send.communicate(timeout=TIMEOUT)
        err = stderr.rest()
    assert send.returncode == 0, err
    assert "Traceback" not in err
    got = relay.by_recipient()
    assert sorted(got) == emails
    assert all(len(copies) == 1 for copies in got.values())  # nobody twice
    db = open_db(path)
    edition = store.find_edition(db, "weekly", "2026-W48")
    assert edition is not None and edition.status == "sent"
    counts = store.delivery_counts(db, edition.id)
    assert counts["sent"] == len(emails) and counts["sending"] == 0
    assert f"sent: {len(emails)}; skipped: 0; failed: 0" in out


def test_a_slow_relay_delivers_everyone_and_counts_right(tmp_path: Path) -> None:
    """Replies late enough that the send loop's queue stays full at the end (the bug: the
    last queued message was thrown away and reported as 'deferred after 4 attempts')."""
    path, emails = _database(tmp_path, 5)
    with running_relay() as relay:
        relay.reply_delay = 0.6
        db = open_db(path)
        report = send_at(db, settings_for(path, relay.url, concurrency=2), NOW)
    assert report.status == "complete", report.stop_reason
    assert (report.sent, report.retried, report.deferred) == (len(emails), 0, 0)
    assert sorted(relay.by_recipient()) == emails
