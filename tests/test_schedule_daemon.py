"""The scheduler for real: `python -m digest schedule run` as a subprocess against a real SMTP
server, SIGTERM, a concurrent `digest send`, a second scheduler; and APScheduler firing a cron
job in-process. Each test takes a few seconds."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

from digest.config import ScheduleSettings
from digest.schedule import Runner, run_daemon
from digest.store import editions as store
from digest.store import open_db
from tests.builders import add_articles, article, make_db, settings_for, subscribe
from tests.relay import Relay, running_relay

REPO = Path(__file__).resolve().parent.parent


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def setup(tmp_path: Path, relay: Relay, readers: int, extra: str = "") -> tuple[Path, Path, str]:
    """A database of daily readers and a config whose daily send time is the current minute:
    just passed, well within max_delay_hours, so the scheduler sends it as soon as it starts
    (what happens after any restart). Returns (config, database, the edition's period)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    add_articles(
        db,
        [article("o1", ("Opioid Drugs",), now - timedelta(hours=2))],
        imported=now - timedelta(hours=2),
    )
    for i in range(readers):
        subscribe(
            db,
            f"reader{i:02d}@example.com",
            ("Opioid Drugs",),
            frequency="daily",
            now=now - timedelta(days=3),
        )
    db.close()
    config = tmp_path / "digest.toml"
    config.write_text(
        f'secret_key = "k"\n[smtp]\nurl = "{relay.url}"\ntimeout = 5\n'
        f'[schedule]\ntimezone = "UTC"\ndaily_time = "{now:%H:%M}"\n{extra}'
    )
    return config, path, now.date().isoformat()


def start(config: Path, db: Path, *args: str, log: Path | None = None) -> subprocess.Popen[str]:
    """``python -m digest ...``; stderr to ``log`` when given, so a test can watch it."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DIGEST_SMTP_URL", None)
    env.pop("JOURNAL_STREAM", None)
    stderr = log.open("w") if log else subprocess.PIPE
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config), "--db", str(db), *args],
        cwd=config.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def edition_status(path: Path, period: str) -> str:
    db = open_db(path)
    try:
        edition = store.find_edition(db, "daily", period)
        return edition.status if edition else ""
    finally:
        db.close()


def test_daemon_sends_refreshes_feeds_and_stops_on_sigterm(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    fresh = (datetime.now(UTC) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    feed.write_text(
        f'{{"url": "https://news.example.com/fresh", "title": "Fresh from the feed", '
        f'"published": "{fresh}"}}\n'
    )
    with running_relay() as relay:
        config, path, period = setup(
            tmp_path,
            relay,
            3,
            f'[[feeds]]\nurl = "{feed}"\ncategory = "Opioid Drugs"\nrefresh_minutes = 60\n',
        )
        daemon = start(config, path, "schedule", "run")
        try:
            assert wait_for(lambda: edition_status(path, period) == "complete")
        finally:
            daemon.send_signal(signal.SIGTERM)
            _, err = daemon.communicate(timeout=20)
        assert daemon.returncode == 0, err
        got = relay.by_recipient()
        assert sorted(got) == [f"reader{i:02d}@example.com" for i in range(3)]
        for items in got.values():
            assert len(items) == 1
            body = items[0].message.get_body(("plain",))
            assert body is not None and "Fresh from the feed" in body.get_content()
    lines = err.splitlines()
    assert "INFO digest.schedule: job send-daily start" in lines
    assert (
        f"INFO digest.schedule: job send-daily end: {period} complete; sent=3 skipped=0 "
        "failed=0 bounced=0 deferred=0 missed=0"
    ) in {line.split(" (")[0] for line in lines}
    # The feed job at start and the refresh before the send race; one of them imports it.
    assert [line for line in lines if "added=1 updated=0 unchanged=0" in line] in (
        [f"INFO digest.schedule: feed {feed}: added=1 updated=0 unchanged=0"],
        ["INFO digest.schedule: job feed-1 end: added=1 updated=0 unchanged=0"],
    )
    assert "INFO digest.schedule: job send-weekly end: nothing due;" in {
        line.split(" sent=")[0] for line in lines
    }
    assert lines[-3:] == [
        "INFO digest.schedule: SIGTERM received: stopping",
        "INFO digest.schedule: stopping: waiting for running jobs to reach a safe point",
        "INFO digest.schedule: stopped",
    ]
    assert "Traceback" not in err


def test_daemon_and_digest_send_on_the_same_edition(tmp_path: Path) -> None:
    """An editor runs `digest send` while the scheduler wants the same edition: whichever
    comes second is refused by the edition's lease; the scheduler logs it and retries later.
    Nobody gets two messages."""
    readers = 24
    with running_relay() as relay:
        config, path, period = setup(tmp_path, relay, readers, "[sending]\nrate = 8\n")
        scheduled = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")  # the daily_time
        editor = start(config, path, "send", "--frequency", "daily", "--as-of", scheduled)
        assert wait_for(lambda: len(relay.received) >= 1)
        log = tmp_path / "daemon.log"
        daemon = start(config, path, "schedule", "run", log=log)
        out, _ = editor.communicate(timeout=30)
        assert editor.returncode == 0, out
        assert wait_for(lambda: "job send-daily end" in log.read_text())
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=20)
        assert daemon.returncode == 0, log.read_text()
        got = relay.by_recipient()
        assert len(got) == readers
        assert {len(items) for items in got.values()} == {1}
    assert edition_status(path, period) == "complete"
    assert f"Edition daily {period} (#1): complete" in out
    [end] = [line for line in log.read_text().splitlines() if "job send-daily end" in line]
    assert end.startswith(
        "WARNING digest.schedule: job send-daily end: edition 1 is being sent by another process"
    )
    assert end.endswith("; retrying in 5 min")


def test_second_daemon_on_the_same_database_refuses(tmp_path: Path) -> None:
    with running_relay() as relay:
        config, path, _ = setup(tmp_path, relay, 0)
        first = start(config, path, "schedule", "run")
        lock = Path(f"{path}.schedule.lock")
        try:
            assert wait_for(lambda: lock.exists() and lock.read_text() == f"{first.pid}\n")
            second = start(config, path, "schedule", "run")
            _, err = second.communicate(timeout=20)
            assert second.returncode == 75
            assert err == (
                f"Error: another `digest schedule run` (pid {first.pid}) is already "
                f"running against {path}; stop it first (lock file {lock})\n"
            )
        finally:
            first.send_signal(signal.SIGINT)
            first.communicate(timeout=20)
        assert first.returncode == 0


def test_apscheduler_fires_the_send_at_its_time(tmp_path: Path) -> None:
    """In-process, with the wall clock three seconds before the send time (time-machine,
    ticking): the real BackgroundScheduler's CronTrigger fires and the edition goes out."""
    send_at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with running_relay() as relay:
        path = tmp_path / "subscribers.db"
        db = make_db(path)
        add_articles(
            db,
            [article("o1", ("Opioid Drugs",), send_at - timedelta(hours=3))],
            imported=send_at - timedelta(hours=3),
        )
        for email in ("ana@example.com", "bo@example.com"):
            subscribe(
                db, email, ("Opioid Drugs",), frequency="daily", now=send_at - timedelta(days=3)
            )
        db.close()
        settings = dataclasses.replace(
            settings_for(path, relay.url), schedule=ScheduleSettings(daily_time="12:00")
        )
        stop = threading.Event()
        with time_machine.travel(send_at - timedelta(seconds=3), tick=True):
            thread = threading.Thread(
                target=run_daemon, args=(settings, Runner(settings, stop=stop), stop)
            )
            thread.start()
            try:
                assert not wait_for(lambda: bool(relay.received), timeout=2.0)
                assert wait_for(lambda: len(relay.received) == 2, timeout=10.0)
            finally:
                stop.set()
                thread.join(timeout=20)
        assert not thread.is_alive()
        db = open_db(path)
        edition = store.find_edition(db, "daily", "2026-11-30")
        db.close()
        assert edition is not None and edition.status == "complete"
        assert edition.created_at is not None and edition.created_at >= send_at


def test_sigterm_mid_send_stops_at_a_message_boundary_and_resumes(tmp_path: Path) -> None:
    readers = 30
    with running_relay() as relay:
        config, path, period = setup(tmp_path, relay, readers, "[sending]\nrate = 15\n")
        daemon = start(config, path, "schedule", "run")
        assert wait_for(lambda: len(relay.received) >= 5)
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=20)
        assert daemon.returncode == 0, err
        first = len(relay.received)
        assert first < readers, "the send finished before SIGTERM landed"
        assert edition_status(path, period) == "open"
        [end] = [line for line in err.splitlines() if "job send-daily end" in line]
        assert end.startswith(
            f"INFO digest.schedule: job send-daily end: {period} stopped "
            "(stopped by a signal; the rest goes out at the next start); "
            f"sent={first} "
        )

        log = tmp_path / "second.log"
        again = start(config, path, "schedule", "run", log=log)
        assert wait_for(lambda: edition_status(path, period) == "complete")
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=20)
        assert again.returncode == 0, log.read_text()
        got = relay.by_recipient()
        assert len(got) == readers
        assert {len(items) for items in got.values()} == {1}
