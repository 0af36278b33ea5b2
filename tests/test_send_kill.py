"""kill -9 a real `digest send` mid-edition, run it again: nobody skipped, duplicates within
the in-flight bound (the concurrency). Ctrl-C: a clean stop at a message boundary.

Where the signal lands is fixed by the relay, not by timing: it accepts a number of messages,
then takes in every later one but holds back its reply, so when the signal is sent each
sender thread is provably mid-message (and no rate limit is needed to keep the send going)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from digest.store import editions as store
from digest.store import open_db
from tests.builders import NOW, add_articles, article, make_db, subscribe
from tests.relay import Relay, running_relay

REPO = Path(__file__).resolve().parent.parent
CONCURRENCY = 2
# A safety net for every wait: reaching it fails the test, it never makes one pass.
TIMEOUT = 30.0


def _run(config: Path, db: Path, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DIGEST_SMTP_URL", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "digest",
            "--config",
            str(config),
            "--db",
            str(db),
            "send",
            "--as-of",
            NOW.isoformat(),
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _readers(tmp_path: Path, count: int) -> tuple[Path, list[str]]:
    """A database with one new article and ``count`` readers of its category."""
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    yesterday = NOW - timedelta(days=1)
    add_articles(db, [article("o1", ("Opioid Drugs",), yesterday)], imported=yesterday)
    emails = [f"reader{i:03d}@example.com" for i in range(count)]
    for email in emails:
        subscribe(db, email, ("Opioid Drugs",))
    db.close()
    return path, emails


def _config(tmp_path: Path, relay: Relay) -> Path:
    """No rate limit: the relay, not the pace of the send, decides where the signal lands."""
    config = tmp_path / "digest.toml"
    config.write_text(
        f'secret_key = "k"\n[smtp]\nurl = "{relay.url}"\n'
        f"[sending]\nconcurrency = {CONCURRENCY}\nrate = 0\n"
    )
    return config


def test_killed_send_resumes_without_skipping(tmp_path: Path) -> None:
    path, emails = _readers(tmp_path, 120)
    accepted = 30
    with running_relay() as relay:
        config = _config(tmp_path, relay)
        relay.hold_from = accepted + 1
        first = _run(config, path, tmp_path)
        try:
            # Every sender has handed the relay a message and waits for the reply: the worst
            # moment to die, since the relay has the message but the sender cannot know it.
            relay.wait_for_held(CONCURRENCY, TIMEOUT)
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=TIMEOUT)
        assert len(relay.received) == accepted + CONCURRENCY

        relay.release()
        second = _run(config, path, tmp_path)
        out, err = second.communicate(timeout=TIMEOUT)
        assert second.returncode == 0, err
        assert "complete" in out
        # The held messages were 'sending' when the process died: sent again, and reported
        # honestly: only the messages that may have reached the relay, one per sender.
        assert f"Resumed: {CONCURRENCY} message(s) were in flight" in out

        got = relay.by_recipient()
        assert sorted(got) == emails  # nobody skipped
        duplicates = sum(len(v) - 1 for v in got.values())
        assert duplicates == CONCURRENCY  # the bound, reached: one per connection
        # A copy sent again carries the Message-ID of the first, so receivers can drop it.
        for copies in got.values():
            assert len({c.message["Message-ID"] for c in copies}) == 1
        db = open_db(path)
        edition = store.find_edition(db, "weekly", "2026-W48")
        assert edition is not None and edition.status == "sent"
        assert store.delivery_counts(db, edition.id)["sent"] == len(emails)


def test_ctrl_c_stops_at_a_message_boundary_and_resumes(tmp_path: Path) -> None:
    path, emails = _readers(tmp_path, 60)
    accepted = 10
    with running_relay() as relay:
        config = _config(tmp_path, relay)
        relay.hold_from = accepted + 1
        first = _run(config, path, tmp_path)
        try:
            relay.wait_for_held(CONCURRENCY, TIMEOUT)
        finally:
            first.send_signal(signal.SIGINT)
        # Each sender gets its reply after the interrupt and finishes its message. (If a sender
        # outruns the main thread's KeyboardInterrupt it may take one more message; every
        # assertion below holds either way.)
        relay.release()
        _, err = first.communicate(timeout=TIMEOUT)
        assert first.returncode == 1
        assert (
            "Stopped: interrupted. Run the same `digest send` again to resume." in err.splitlines()
        )
        assert "Traceback" not in err
        stopped_at = len(relay.received)
        assert accepted + CONCURRENCY <= stopped_at < len(emails)
        db = open_db(path)
        edition = store.find_edition(db, "weekly", "2026-W48")
        assert edition is not None
        counts = store.delivery_counts(db, edition.id)
        # Everything that reached the relay is recorded; nothing is left half-way.
        assert counts["sent"] == stopped_at and counts["sending"] == 0
        db.close()

        second = _run(config, path, tmp_path)
        _, err = second.communicate(timeout=TIMEOUT)
        assert second.returncode == 0, err
        got = relay.by_recipient()
        assert sorted(got) == emails
        assert all(len(v) == 1 for v in got.values())  # a graceful stop sends nobody twice


def test_killed_send_over_two_relays_resumes_without_skipping(tmp_path: Path) -> None:
    """The same kill with a pool of two: the senders die mid-message on relay a; the second
    run goes on over both, and nobody is skipped or sent twice beyond the in-flight bound."""
    path, emails = _readers(tmp_path, 120)
    with running_relay() as a, running_relay() as b:
        config = tmp_path / "digest.toml"
        config.write_text(
            f'secret_key = "k"\n[sending]\nconcurrency = {CONCURRENCY}\nrate = 0\n'
            f'[[smtp.relays]]\nurl = "{a.url}"\nname = "a"\n'
            f'[[smtp.relays]]\nurl = "{b.url}"\nname = "b"\n'
        )
        a.hold_from = 16
        first = _run(config, path, tmp_path)
        try:
            a.wait_for_held(CONCURRENCY, TIMEOUT)
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=TIMEOUT)
        a.release()
        second = _run(config, path, tmp_path)
        out, err = second.communicate(timeout=TIMEOUT)
        assert second.returncode == 0, err
        assert f"Resumed: {CONCURRENCY} message(s) were in flight" in out
        assert "Relays: a " in out and ", b " in out

        got: dict[str, int] = {}
        for relay in (a, b):
            for rcpt, items in relay.by_recipient().items():
                got[rcpt] = got.get(rcpt, 0) + len(items)
        assert sorted(got) == emails
        assert sum(n - 1 for n in got.values()) == CONCURRENCY
        db = open_db(path)
        edition = store.find_edition(db, "weekly", "2026-W48")
        assert edition is not None and edition.status == "sent"
        assert store.delivery_counts(db, edition.id)["sent"] == len(emails)
        relays = {r[0] for r in db.execute("SELECT relay FROM deliveries").fetchall()}
        assert relays == {"a", "b"}
