"""kill -9 a real `digest send` mid-edition, run it again: nobody skipped, duplicates within
the in-flight bound (the concurrency)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from digest.store import editions as store
from digest.store import open_db
from tests.builders import NOW, add_articles, article, make_db, subscribe
from tests.relay import Relay, running_relay

REPO = Path(__file__).resolve().parent.parent
CONCURRENCY = 2


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


def _config(tmp_path: Path, relay: Relay, rate: int) -> Path:
    config = tmp_path / "digest.toml"
    config.write_text(
        f'secret_key = "k"\n[smtp]\nurl = "{relay.url}"\n'
        f"[sending]\nconcurrency = {CONCURRENCY}\nrate = {rate}\n"
    )
    return config


def _wait_for(relay: Relay, messages: int) -> None:
    deadline = time.monotonic() + 30
    while len(relay.received) < messages and time.monotonic() < deadline:
        time.sleep(0.05)


def test_killed_send_resumes_without_skipping(tmp_path: Path) -> None:
    path, emails = _readers(tmp_path, 120)
    with running_relay() as relay:
        config = _config(tmp_path, relay, rate=40)
        first = _run(config, path, tmp_path)
        _wait_for(relay, 30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = len(relay.received)
        assert 30 <= killed_at < len(emails), "the kill did not land mid-edition"

        second = _run(config, path, tmp_path)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        assert "complete" in out

        got = relay.by_recipient()
        assert sorted(got) == emails  # nobody skipped
        duplicates = sum(len(v) - 1 for v in got.values())
        assert duplicates <= CONCURRENCY
        db = open_db(path)
        edition = store.find_edition(db, "weekly", "2026-W48")
        assert edition is not None and edition.status == "complete"
        assert store.delivery_counts(db, edition.id)["sent"] == len(emails)
        if duplicates:
            assert "in flight" in out


def test_ctrl_c_stops_at_a_message_boundary_and_resumes(tmp_path: Path) -> None:
    path, emails = _readers(tmp_path, 60)
    with running_relay() as relay:
        config = _config(tmp_path, relay, rate=20)
        first = _run(config, path, tmp_path)
        _wait_for(relay, 10)
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=30)
        assert first.returncode == 1
        assert "Stopped: interrupted. Run the same `digest send` again to resume." in err
        assert "Traceback" not in err
        stopped_at = len(relay.received)
        assert stopped_at < len(emails)
        db = open_db(path)
        edition = store.find_edition(db, "weekly", "2026-W48")
        assert edition is not None
        counts = store.delivery_counts(db, edition.id)
        # Everything that reached the relay is recorded; nothing is left half-way.
        assert counts["sent"] == stopped_at and counts["sending"] == 0
        db.close()

        second = _run(config, path, tmp_path)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        got = relay.by_recipient()
        assert sorted(got) == emails
        assert all(len(v) == 1 for v in got.values())  # a graceful stop sends nobody twice
