"""The scheduler for real: `python -m digest schedule run` as a subprocess against a real SMTP
server, SIGTERM, a concurrent `digest send`, a second scheduler; and APScheduler firing a cron
job in-process.

Nothing here waits on the wall clock: a test waits for the log line, the relay message or the
job-done hook that marks the moment it cares about (each wait has a generous timeout that
only fails the test), and the relay holds its replies to keep a send mid-edition while a
signal lands."""

from __future__ import annotations

import dataclasses
import os
import queue
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

from digest.config import ScheduleSettings
from digest.models import UpsertCounts
from digest.schedule import Runner, SendRun, run_daemon
from digest.store import editions as store
from digest.store import open_db
from tests.builders import add_articles, article, make_db, settings_for, subscribe
from tests.relay import Relay, running_relay

REPO = Path(__file__).resolve().parent.parent
# A safety net for every wait: reaching it fails the test, it never makes one pass.
TIMEOUT = 30.0


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
    # The SMTP timeout outlasts any hold: test_daemon_and_digest_send_on_the_same_edition
    # holds the editor's message until the daemon has started, checked its templates and been
    # refused, and a client that gives up on a held message retries it (a second copy).
    config.write_text(
        f'secret_key = "k"\n[smtp]\nurl = "{relay.url}"\ntimeout = 60\n'
        f'[schedule]\ntimezone = "UTC"\ndaily_time = "{now:%H:%M}"\n{extra}'
    )
    return config, path, now.date().isoformat()


class Digest:
    """``python -m digest ...`` as a subprocess. Its stderr (the scheduler's log) is read line
    by line as it comes, so a test can wait for the line that marks a moment."""

    def __init__(self, config: Path, db: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("DIGEST_SMTP_URL", None)
        env.pop("JOURNAL_STREAM", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "digest", "--config", str(config), "--db", str(db), *args],
            cwd=config.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.pid = self.process.pid
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait_for_line(self, text: str) -> str:
        """The first stderr line containing ``text``, once it is written."""

        def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None or self._ended, TIMEOUT)
            line = found()
            if line is None:
                log = "\n".join(self.lines)
                raise AssertionError(f"no line with {text!r} in stderr:\n{log}")
            return line

    def finish(self, sig: signal.Signals | None = None) -> tuple[int, str, str]:
        """Send ``sig`` if given, wait for the exit: (exit status, stdout, stderr)."""
        if sig is not None:
            self.process.send_signal(sig)
        returncode = self.process.wait(TIMEOUT)
        assert self.process.stdout is not None
        out = self.process.stdout.read()
        self._reader.join(TIMEOUT)
        return returncode, out, "\n".join(self.lines) + "\n"

    def __enter__(self) -> Digest:
        return self

    def __exit__(self, *exc: object) -> None:
        """However the test went, no process is left behind."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(TIMEOUT)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


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
        with Digest(config, path, "schedule", "run") as daemon:
            # Every job runs once at start; stop when all three have ended.
            for job in ("send-daily", "send-weekly", "feed-1"):
                daemon.wait_for_line(f"job {job} end")
            returncode, _, err = daemon.finish(signal.SIGTERM)
        assert returncode == 0, err
        assert edition_status(path, period) == "sent"
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
    Nobody gets two messages. The relay holds the editor mid-edition until the scheduler has
    been refused, so the overlap does not depend on how fast either of them is."""
    readers = 24
    with running_relay() as relay:
        config, path, period = setup(tmp_path, relay, readers)
        relay.hold_from = 2
        scheduled = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")  # the daily_time
        with Digest(config, path, "send", "--frequency", "daily", "--as-of", scheduled) as editor:
            relay.wait_for_held(1, TIMEOUT)  # the editor holds the lease, mid-edition
            with Digest(config, path, "schedule", "run") as daemon:
                end = daemon.wait_for_line("job send-daily end")
                relay.release()
                returncode, out, err = editor.finish()
                assert returncode == 0, err
                daemon_returncode, _, log = daemon.finish(signal.SIGTERM)
        assert daemon_returncode == 0, log
        got = relay.by_recipient()
        assert len(got) == readers
        assert {len(items) for items in got.values()} == {1}
    assert edition_status(path, period) == "sent"
    assert f"Edition daily {period} (#1): complete" in out
    assert end.startswith(
        "WARNING digest.schedule: job send-daily end: edition 1 is being sent by another process"
    )
    assert end.endswith("; retrying in 5 min")
    assert [line for line in log.splitlines() if "job send-daily end" in line] == [end]


def test_second_daemon_on_the_same_database_refuses(tmp_path: Path) -> None:
    with running_relay() as relay:
        config, path, _ = setup(tmp_path, relay, 0)
        lock = Path(f"{path}.schedule.lock")
        with Digest(config, path, "schedule", "run") as first:
            # Logged once the lock is held.
            first.wait_for_line("scheduler starting")
            assert lock.read_text() == f"{first.pid}\n"
            with Digest(config, path, "schedule", "run") as second:
                returncode, _, err = second.finish()
            assert returncode == 75
            assert err == (
                f"Error: another `digest schedule run` (pid {first.pid}) is already "
                f"running against {path}; stop it first (lock file {lock})\n"
            )
            first_returncode, _, log = first.finish(signal.SIGINT)
        assert first_returncode == 0, log


def test_apscheduler_fires_the_send_at_its_time(tmp_path: Path) -> None:
    """In-process, with the clock frozen (time-machine) a second before the send time: the
    send job's run at start sends nothing; with the clock moved to the send time, the real
    BackgroundScheduler's CronTrigger fires and the edition goes out. The test follows the
    runs through run_daemon's on_job_done hook, not through the wall clock."""
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
        runs: queue.Queue[SendRun | UpsertCounts | None] = queue.Queue()

        def on_job_done(job: str, run: SendRun | UpsertCounts | None) -> None:
            if job == "send-daily":
                runs.put(run)

        stop = threading.Event()
        with time_machine.travel(send_at - timedelta(seconds=1), tick=False) as traveller:
            thread = threading.Thread(
                target=run_daemon,
                args=(settings, Runner(settings, stop=stop), stop),
                kwargs={"on_job_done": on_job_done},
            )
            thread.start()
            try:
                early = runs.get(timeout=TIMEOUT)  # the run at start
                assert isinstance(early, SendRun) and early.periods == []
                assert (early.sent, early.retry, relay.received) == (0, False, [])
                traveller.move_to(send_at)
                on_time = runs.get(timeout=TIMEOUT)  # the cron trigger's
                assert isinstance(on_time, SendRun)
                assert (on_time.periods, on_time.statuses) == (["2026-11-30"], ["complete"])
                assert on_time.sent == 2
                assert len(relay.received) == 2
            finally:
                stop.set()
                thread.join(timeout=TIMEOUT)
        assert not thread.is_alive()
        db = open_db(path)
        edition = store.find_edition(db, "daily", "2026-11-30")
        db.close()
        assert edition is not None and edition.status == "sent"
        assert edition.created_at == send_at


def test_sigterm_mid_send_stops_at_a_message_boundary_and_resumes(tmp_path: Path) -> None:
    """The relay accepts five messages and holds the reply to every later one: the scheduler's
    four sender threads are each mid-message when SIGTERM lands. Released once the scheduler
    is stopping, each finishes its message and takes no other."""
    readers, accepted, concurrency = 30, 5, 4
    with running_relay() as relay:
        config, path, period = setup(
            tmp_path, relay, readers, f"[sending]\nconcurrency = {concurrency}\n"
        )
        relay.hold_from = accepted + 1
        with Digest(config, path, "schedule", "run") as daemon:
            relay.wait_for_held(concurrency, TIMEOUT)
            daemon.process.send_signal(signal.SIGTERM)
            daemon.wait_for_line("stopping: waiting for running jobs")  # stop is set
            relay.release()
            returncode, _, err = daemon.finish()
        assert returncode == 0, err
        first = len(relay.received)
        assert first == accepted + concurrency
        assert edition_status(path, period) == "sending"
        [end] = [line for line in err.splitlines() if "job send-daily end" in line]
        assert end.startswith(
            f"INFO digest.schedule: job send-daily end: {period} stopped "
            "(stopped by a signal; the rest goes out at the next start); "
            f"sent={first} "
        )

        with Digest(config, path, "schedule", "run") as again:
            end = again.wait_for_line("job send-daily end")
            returncode, _, log = again.finish(signal.SIGTERM)
        assert returncode == 0, log
        assert f"{period} complete; sent={readers - first} " in end
        assert edition_status(path, period) == "sent"
        got = relay.by_recipient()
        assert len(got) == readers
        assert {len(items) for items in got.values()} == {1}
