"""`digest bounces fetch` against a real Dovecot (tests/dovecot.py): a bounce, a complaint
and an unrelated message; each is recorded, then moved; a process killed between reading
and recording, or between recording and moving, loses nothing and applies nothing twice."""

from __future__ import annotations

import dataclasses
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.app import App
from digest.bounces import ImportReport
from digest.bounces.mailbox import Mailbox, parse_imap_url
from digest.cli import cli
from digest.config import BounceSettings
from digest.errors import ConfigError
from digest.schedule import Runner, run_daemon
from digest.schedule.daemon import BOUNCES_JOB
from digest.store import Store, open_db
from digest.store.subscribers import get_subscriber_by_email
from tests.builders import NOW, make_db, settings_for, subscribe
from tests.dovecot import PASSWORD, Dovecot, running_dovecot

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "bounces"
MESSAGES = ("postfix.eml", "arf-yahoo.eml", "reply.eml")  # a bounce, a complaint, a reply


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        for name in MESSAGES:
            server.deliver(f"{name}.1", (FIXTURES / name).read_bytes())
        yield server


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "test.db"
    db = make_db(path)
    for email in ("pat@example.com", "cat@yahoo.com", "ana@example.com"):
        subscribe(db, email, ("Courts",))
    db.close()
    return path


def _config(tmp_path: Path, db: Path, server: Dovecot) -> Path:
    config = tmp_path / "digest.toml"
    config.write_text(
        f'secret_key = "k"\n[database]\npath = "{db}"\n'
        f'[bounces]\nimap_url = "{server.url}"\nimap_password_env = "TEST_IMAP_PASSWORD"\n'
    )
    return config


def _status(db_path: Path, email: str) -> str:
    db = open_db(db_path)
    subscriber = get_subscriber_by_email(db, email)
    db.close()
    assert subscriber is not None
    return str(subscriber.status)


def _bounce_rows(db_path: Path) -> int:
    db = open_db(db_path)
    count = int(db.execute("SELECT COUNT(*) FROM bounces").fetchone()[0])
    db.close()
    return count


def test_fetch_records_then_moves_each_message(
    tmp_path: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _db(tmp_path)
    config = _config(tmp_path, db, dovecot)
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    result = CliRunner().invoke(cli, ["--config", str(config), "bounces", "fetch"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "Read 3 messages: 1 hard bounce, 0 soft bounces, 1 complaint, 0 policy rejections; "
        "0 already imported, 0 needing nothing, 1 unrecognised."
    )
    assert _status(db, "pat@example.com") == "bounced"
    assert _status(db, "cat@yahoo.com") == "complained"
    assert _status(db, "ana@example.com") == "active"
    assert (dovecot.count(), dovecot.count("Processed"), dovecot.count("Unrecognised")) == (0, 2, 1)
    again = CliRunner().invoke(cli, ["--config", str(config), "bounces", "fetch"])
    assert again.output.startswith("Read 0 messages")  # nothing is read twice


KILLER = """
import os, signal, sys
from pathlib import Path
from digest.app import App
from digest.bounces.mailbox import Mailbox
from digest.config import load_settings

where = sys.argv[2]

class Dying(Mailbox):
    def fetch(self, uid):
        raw = super().fetch(uid)
        if where == "after-fetch":
            os.kill(os.getpid(), signal.SIGKILL)  # read, not recorded
        return raw

    def move(self, uid, folder):
        if where == "before-move":
            os.kill(os.getpid(), signal.SIGKILL)  # recorded, not moved
        super().move(uid, folder)

settings = load_settings(sys.argv[1])
b = settings.bounces
app = App.open(settings)
app.fetch_bounces(Dying.from_settings(b.imap_url, b.imap_password_env))
"""


@pytest.mark.parametrize("where", ["after-fetch", "before-move"])
def test_a_kill_between_reading_recording_and_moving_loses_nothing(
    tmp_path: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    db = _db(tmp_path)
    config = _config(tmp_path, db, dovecot)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TEST_IMAP_PASSWORD": PASSWORD}
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(config), where], env=env, capture_output=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert dovecot.count() == 3  # nothing moved
    recorded = _bounce_rows(db)
    assert recorded == (0 if where == "after-fetch" else 1)
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    result = CliRunner().invoke(cli, ["--config", str(config), "bounces", "fetch"])
    assert result.exit_code == 0, result.output
    assert _bounce_rows(db) == 2  # one bounce, one complaint: never twice
    assert _status(db, "pat@example.com") == "bounced"
    assert _status(db, "cat@yahoo.com") == "complained"
    assert (dovecot.count(), dovecot.count("Processed"), dovecot.count("Unrecognised")) == (0, 2, 1)


def test_settings_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"^bounces.imap_url: expected imaps://user@host"):
        parse_imap_url("https://x.example/")
    with pytest.raises(ConfigError, match=r"^bounces.imap_url: no password in the URL"):
        parse_imap_url("imaps://u:pw@mail.example.com/INBOX")
    assert str(parse_imap_url("imaps://bounces@mail.example.com")) == (
        "imaps://bounces@mail.example.com:993/INBOX"
    )
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(ConfigError, match=r"^bounces.imap_password_env: the variable 'NOPE'"):
        Mailbox.from_settings("imaps://u@mail.example.com/INBOX", "NOPE")
    db = _db(tmp_path)
    app = App(settings_for(db), Store.adopt(open_db(db)), clock=lambda: NOW)
    result = CliRunner().invoke(cli, ["--db", str(db), "bounces", "fetch"])
    assert result.exit_code == 1
    assert "no bounce mailbox: set [bounces] imap_url in digest.toml" in result.output
    assert dataclasses.replace(BounceSettings()).imap_url == ""
    app.close()


def test_the_scheduler_fetches_the_mailbox(
    tmp_path: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_daemon with [bounces] imap_url set: the bounces job runs at start (and then every
    fetch_minutes); the test follows it through the on_job_done hook."""
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    db = _db(tmp_path)
    settings = dataclasses.replace(
        settings_for(db),
        bounces=BounceSettings(imap_url=dovecot.url, imap_password_env="TEST_IMAP_PASSWORD"),
    )
    done: queue.Queue[object] = queue.Queue()

    def on_job_done(job: str, result: object) -> None:
        if job == BOUNCES_JOB:
            done.put(result)

    stop = threading.Event()
    thread = threading.Thread(
        target=run_daemon,
        args=(settings, Runner(settings, stop=stop), stop),
        kwargs={"on_job_done": on_job_done},
    )
    thread.start()
    try:
        report = done.get(timeout=30)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert isinstance(report, ImportReport)
    assert (report.messages, report.hard, report.complaints) == (3, 1, 1)
    assert _status(db, "pat@example.com") == "bounced"
    assert dovecot.count() == 0
