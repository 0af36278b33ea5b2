"""Split brain: a `digest send` paused (Ctrl-Z, a suspended VM, a long stall) past its lease,
a second `digest send` taking the edition over, then the first resuming. The lease's
generation fences the first: it stops before sending more and exits 75, and only what it had
in flight at the pause can arrive twice, with the same Message-ID.

Nothing here waits on the clock: the relay holds the first sender's replies so it is provably
mid-message when it is stopped, and the lease is made stale by dating its last heartbeat back,
which is what a paused process's lease looks like to the next one."""

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
TIMEOUT = 30.0  # a safety net for every wait: reaching it fails the test


def _send(config: Path, db: Path, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DIGEST_SMTP_URL", None)
    argv = ["--config", str(config), "--db", str(db), "send", "--as-of", NOW.isoformat()]
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _setup(tmp_path: Path, relay: Relay, readers: int) -> tuple[Path, Path, list[str]]:
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    yesterday = NOW - timedelta(days=1)
    add_articles(db, [article("o1", ("Opioid Drugs",), yesterday)], imported=yesterday)
    emails = [f"reader{i:03d}@example.com" for i in range(readers)]
    for email in emails:
        subscribe(db, email, ("Opioid Drugs",))
    db.close()
    config = tmp_path / "digest.toml"
    config.write_text(
        f'secret_key = "k"\n[smtp]\nurl = "{relay.url}"\n'
        f"[sending]\nconcurrency = {CONCURRENCY}\nrate = 0\nlease_seconds = 90\n"
    )
    return path, config, emails


def _expire_lease(path: Path) -> None:
    """What a pause longer than the lease leaves behind: a heartbeat older than the lease."""
    db = open_db(path)
    db.execute("UPDATE send_locks SET heartbeat_at = '2000-01-01T00:00:00Z'")
    db.close()


def test_a_sender_paused_past_its_lease_stops_when_it_resumes(tmp_path: Path) -> None:
    with running_relay() as relay:
        path, config, emails = _setup(tmp_path, relay, 60)
        accepted = 10
        relay.hold_from = accepted + 1
        first = _send(config, path, tmp_path)
        try:
            relay.wait_for_held(CONCURRENCY, TIMEOUT)
            first.send_signal(signal.SIGSTOP)
            _expire_lease(path)
            # The first's two messages are accepted (their replies wait in its sockets).
            relay.release()

            second = _send(config, path, tmp_path)
            out, err = second.communicate(timeout=TIMEOUT)
            assert second.returncode == 0, err
            assert "complete" in out
            assert f"Resumed: {CONCURRENCY} message(s) were in flight" in out
        finally:
            first.send_signal(signal.SIGCONT)
        _, first_err = first.communicate(timeout=TIMEOUT)

    assert first.returncode == 75, first_err
    assert "took the edition over" in first_err
    assert "Traceback" not in first_err
    got = relay.by_recipient()
    assert sorted(got) == emails  # every reader delivered
    duplicates = {email: copies for email, copies in got.items() if len(copies) > 1}
    assert len(duplicates) <= CONCURRENCY  # at most what was in flight, never the list
    for copies in duplicates.values():
        assert len({c.message["Message-ID"] for c in copies}) == 1
    db = open_db(path)
    edition = store.find_edition(db, "weekly", "2026-W48")
    assert edition is not None and edition.status == "sent"
    counts = store.delivery_counts(db, edition.id)
    assert counts["sent"] == len(emails) and counts["sending"] == 0


def test_a_live_lease_is_not_taken_over(tmp_path: Path) -> None:
    """The fence is not a free-for-all: a second send while the first is alive and within its
    lease is refused (exit 75), whatever it is doing."""
    with running_relay() as relay:
        path, config, _ = _setup(tmp_path, relay, 20)
        relay.hold_from = 3
        first = _send(config, path, tmp_path)
        try:
            relay.wait_for_held(CONCURRENCY, TIMEOUT)
            second = _send(config, path, tmp_path)
            _, err = second.communicate(timeout=TIMEOUT)
        finally:
            relay.release()
        first.communicate(timeout=TIMEOUT)
    assert second.returncode == 75
    assert "is being sent by another process" in err
    assert first.returncode == 0
