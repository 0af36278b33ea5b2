"""Outgoing webhooks against a real HTTP receiver on loopback: events written with the change
that caused them, signed, retried with back-off while the receiver is down, delivered once
per delivery id, and never lost when a real process is killed with SIGKILL."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.app import App, WebhookRun
from digest.app.webhooks import CLAIM, GIVE_UP_AFTER, retry_delay
from digest.cli import cli
from digest.deliver.webhook import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)
from digest.models import BounceKind, BounceRecord
from digest.schedule import Runner, run_daemon
from digest.tokens import ConfirmClaim, address_tag
from digest.web.dispatch import Dispatcher
from tests.builders import NOW, add_articles, article, make_db, settings_for
from tests.relay import running_relay
from tests.webhook_receiver import Hit, Receiver, running_receiver

REPO = Path(__file__).resolve().parent.parent
ALL = "subscribed,confirmed,unsubscribed,bounced,complained,edition.sent"


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Setup:
    core: App
    clock: Clock
    receiver: Receiver
    secret: str
    db_path: Path


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    db_path = tmp_path / "hooks.db"
    make_db(db_path).close()
    clock = Clock()
    core = App.open(settings_for(db_path), clock=clock)
    with running_receiver() as receiver:
        new = core.add_webhook(receiver.url, ALL.split(","))
        yield Setup(core, clock, receiver, new.secret, db_path)


def body(hit: Hit) -> dict[str, object]:
    value: dict[str, object] = json.loads(hit.body)
    return value


def outbox(core: App) -> list[tuple[str, int, str | None]]:
    rows = core.db.execute(
        "SELECT event, attempts, delivered_at FROM webhook_deliveries ORDER BY id"
    ).fetchall()
    return [(str(r[0]), int(r[1]), r[2]) for r in rows]


def test_events_arrive_signed(setup: Setup) -> None:
    core = setup.core
    ana = core.add_subscriber("ana@example.com", ["Courts"]).subscriber
    job, _ = core.api_sign_up("bo@example.com", ["Courts"])
    assert job is not None
    claim = ConfirmClaim(job.request_id, job.nonce, address_tag("bo@example.com"))
    core.confirm(claim, "192.0.2.1")
    core.unsubscribe("ana@example.com")
    core.apply_bounce(BounceRecord(job.subscriber_id, None, BounceKind.HARD, NOW), "test")
    run = core.deliver_webhooks()
    assert run.summary() == "delivered 4, retrying 0, given up 0"
    hits = setup.receiver.wait_for_count(4)
    # Bo's sign-up is no subscriber until confirmed: 'confirmed' is the event for it.
    assert [h.headers[EVENT_HEADER] for h in hits] == [
        "subscribed",
        "confirmed",
        "unsubscribed",
        "bounced",
    ]
    for hit in hits:
        assert verify(
            setup.secret, hit.headers[TIMESTAMP_HEADER], hit.body, hit.headers[SIGNATURE_HEADER]
        )
        assert not verify(
            "another secret", hit.headers[TIMESTAMP_HEADER], hit.body, hit.headers[SIGNATURE_HEADER]
        )
        assert hit.headers[TIMESTAMP_HEADER] == str(int(NOW.timestamp()))
        assert body(hit)["event"] == hit.headers[EVENT_HEADER]
    assert len({h.headers[DELIVERY_HEADER] for h in hits}) == 4
    first = body(hits[0])
    assert first == {
        "event": "subscribed",
        "at": "2026-11-28T09:00:00Z",
        "subscriber": {
            "id": ana.id,
            "email": "ana@example.com",
            "status": "active",
            "frequency": "weekly",
            "source": "cli",
        },
    }
    # Delivered rows stay, for the log; nothing is posted twice.
    assert core.deliver_webhooks().summary() == "delivered 0, retrying 0, given up 0"
    assert [e for e, _, delivered in outbox(core) if delivered] == [
        "subscribed",
        "confirmed",
        "unsubscribed",
        "bounced",
    ]


def test_only_the_chosen_events_of_live_webhooks(setup: Setup) -> None:
    core = setup.core
    with running_receiver() as other:
        narrow = core.add_webhook(other.url, ["unsubscribed"])
        core.add_subscriber("ana@example.com", ["Courts"])
        core.unsubscribe("ana@example.com")
        core.remove_webhook(setup.core.list_webhooks()[0].id)
        core.deliver_webhooks()
        [hit] = other.wait_for_count(1)
        assert hit.headers[EVENT_HEADER] == "unsubscribed"
        assert verify(
            narrow.secret, hit.headers[TIMESTAMP_HEADER], hit.body, hit.headers[SIGNATURE_HEADER]
        )
    assert setup.receiver.hits == []  # removed: its undelivered events were dropped


def test_an_edition_sent_is_an_event(setup: Setup) -> None:
    core = setup.core
    add_articles(
        core.db, [article("o1", ("Courts",), NOW - timedelta(days=1))], NOW - timedelta(days=1)
    )
    core.add_subscriber("ana@example.com", ["Courts"])
    with running_relay() as relay:
        sender = App.open(settings_for(setup.db_path, relay.url), clock=setup.clock)
        edition = sender.open_edition("weekly", NOW)
        report = sender.send("weekly", NOW, edition=edition)
        assert report.status == "complete"
    core.deliver_webhooks()
    hits = setup.receiver.wait_for_count(2)
    sent = body(hits[1])
    assert sent == {
        "event": "edition.sent",
        "at": "2026-11-28T09:00:00Z",
        "edition": {
            "id": edition.id,
            "frequency": "weekly",
            "period": "2026-W48",
            "deliveries": {"sent": 1},
        },
    }


def test_a_receiver_down_for_a_while_gets_every_event_once(setup: Setup) -> None:
    core, receiver = setup.core, setup.receiver
    receiver.stop()
    for i in range(3):
        core.add_subscriber(f"r{i}@example.com", ["Courts"])
    assert core.deliver_webhooks().summary() == "delivered 0, retrying 3, given up 0"
    # Not due again before the back-off has passed.
    assert core.deliver_webhooks().summary() == "delivered 0, retrying 0, given up 0"
    setup.clock.now = NOW + retry_delay(1)
    assert core.deliver_webhooks().summary() == "delivered 0, retrying 3, given up 0"
    assert [a for _, a, _ in outbox(core)] == [2, 2, 2]
    receiver.start()  # up again, on the same port
    receiver.status = 503  # ...but not ready yet
    setup.clock.now += retry_delay(2)
    assert core.deliver_webhooks().summary() == "delivered 0, retrying 3, given up 0"
    receiver.status = 200
    setup.clock.now += retry_delay(3)
    assert core.deliver_webhooks().summary() == "delivered 3, retrying 0, given up 0"
    hits = receiver.wait_for_count(6)
    delivered = [h.headers[DELIVERY_HEADER] for h in hits]
    # Three 503s and three 200s: the same three delivery ids, each accepted exactly once.
    assert len(set(delivered)) == 3 and len(delivered) == 6
    log = CliRunner().invoke(cli, ["--db", str(setup.db_path), "webhooks", "log"]).output
    assert log.count("delivered 2026-11-28") == 3 and "4 attempts" in log


def test_retries_stop_after_24_hours(setup: Setup) -> None:
    core = setup.core
    setup.receiver.status = 500
    core.add_subscriber("ana@example.com", ["Courts"])
    runs = []
    while True:
        run = core.deliver_webhooks()
        runs.append(run.summary())
        if run.given_up:
            break
        [(_, attempts, _)] = outbox(core)
        setup.clock.now += retry_delay(attempts)
    assert setup.clock.now - NOW >= GIVE_UP_AFTER
    assert runs[-1] == "delivered 0, retrying 0, given up 1"
    # 30 s doubling to an hour, then hourly: about 30 attempts in a day, not thousands.
    assert 25 <= len(runs) <= 35
    log = CliRunner().invoke(cli, ["--db", str(setup.db_path), "webhooks", "log", "--json"])
    [row] = json.loads(log.output)
    assert (
        row["state"].startswith("given up")
        and row["last_error"] == "HTTP 500 Internal Server Error"
    )


def _python(db: Path, code: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), str(db)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_kill_between_the_change_and_the_post_loses_nothing(setup: Setup) -> None:
    setup.core.add_subscriber("ana@example.com", ["Courts"])
    setup.core.deliver_webhooks()
    setup.receiver.wait_for_count(1)
    # A real process unsubscribes Ana, then is killed before anything could post the event.
    process = _python(
        setup.db_path,
        """
        import os, signal, sys
        from digest.app import App
        from digest.config import Settings
        import dataclasses
        settings = dataclasses.replace(Settings(), db_path=sys.argv[1], secret_key="k" * 32)
        App.open(settings).unsubscribe("ana@example.com", "killed")
        os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    process.wait()
    assert process.returncode == -signal.SIGKILL
    setup.clock.now = datetime.now(NOW.tzinfo)  # the subprocess ran on the real clock
    assert setup.core.deliver_webhooks().delivered == 1
    hits = setup.receiver.wait_for_count(2)
    assert body(hits[1])["event"] == "unsubscribed"


def test_a_kill_during_the_post_loses_nothing(setup: Setup) -> None:
    """`digest webhooks deliver` killed while the receiver holds its POST: the row stays
    claimed, then is posted again with the same delivery id once the claim runs out."""
    setup.core.add_subscriber("ana@example.com", ["Courts"])
    setup.receiver.hold = True
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "--db", str(setup.db_path), "webhooks", "deliver"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    [held] = setup.receiver.wait_for_count(1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    setup.receiver.hold = False
    setup.receiver.released.set()
    [(event, attempts, delivered)] = outbox(setup.core)
    assert (event, attempts, delivered) == ("subscribed", 0, None)
    # The killed process's claim (on the real clock) keeps others off it for a while.
    setup.clock.now = datetime.now(NOW.tzinfo)
    assert setup.core.deliver_webhooks().delivered == 0
    setup.clock.now += CLAIM + timedelta(seconds=1)
    assert setup.core.deliver_webhooks().delivered == 1
    hits = setup.receiver.wait_for_count(2)
    assert hits[1].headers[DELIVERY_HEADER] == held.headers[DELIVERY_HEADER]
    assert hits[1].body == held.body


def test_the_webhooks_commands(setup: Setup) -> None:
    db = str(setup.db_path)

    def run(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, ["--db", db, "webhooks", *args])
        return result.exit_code, result.stdout, result.stderr

    code, out, err = run("add", "https://crm.example.com/h", "--events", "confirmed,edition.sent")
    assert code == 0 and len(out.strip()) >= 40 and "will not be shown again" in err
    code, out, _ = run("list")
    assert out.splitlines()[1] == "2\thttps://crm.example.com/h\tconfirmed,edition.sent"
    assert setup.secret not in out
    code, _, err = run("add", "ftp://x", "--events", "confirmed")
    assert code == 1 and "http:// or https://" in err
    code, _, err = run("add", "https://x.example", "--events", "confirmed,opened")
    assert code == 1 and "opened (choose from subscribed" in err
    assert run("remove", "2")[1] == "Removed webhook 2.\n"
    code, _, err = run("remove", "2")
    assert code == 1 and "no webhook 2" in err
    assert run("deliver")[1] == "Webhooks: delivered 0, retrying 0, given up 0.\n"


def test_digest_serve_posts_from_a_thread_of_its_own(setup: Setup) -> None:
    dispatcher = Dispatcher(setup.core, interval=0.01)
    dispatcher.start()
    try:
        setup.core.add_subscriber("ana@example.com", ["Courts"])
        [hit] = setup.receiver.wait_for_count(1)
    finally:
        dispatcher.close()
    assert hit.headers[EVENT_HEADER] == "subscribed"


def test_forgetting_a_reader_blanks_their_address_in_the_outbox(setup: Setup) -> None:
    core = setup.core
    core.add_subscriber("ana@example.com", ["Courts"])
    core.add_subscriber("bo@example.com", ["Courts"])
    core.deliver_webhooks()
    core.unsubscribe("ana@example.com")  # not delivered yet when she is forgotten
    core.forget("ana@example.com")
    dump = "\n".join(core.db.iterdump())
    assert "ana@example.com" not in dump
    assert "bo@example.com" in dump
    core.deliver_webhooks()
    hits = setup.receiver.wait_for_count(3)
    unsubscribed = body(hits[2])["subscriber"]
    assert isinstance(unsubscribed, dict) and unsubscribed["email"] is None


def test_digest_schedule_run_posts_them_too(setup: Setup) -> None:
    """run_daemon's webhooks job (in-process; followed through its on_job_done hook)."""
    setup.core.add_subscriber("ana@example.com", ["Courts"])
    settings = settings_for(setup.db_path)
    done: queue.Queue[object] = queue.Queue()
    stop = threading.Event()

    def on_job_done(job: str, result: object) -> None:
        if job == "webhooks":
            done.put(result)

    thread = threading.Thread(
        target=run_daemon,
        args=(settings, Runner(settings, stop=stop), stop),
        kwargs={"on_job_done": on_job_done},
    )
    thread.start()
    try:
        run = done.get(timeout=30)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert isinstance(run, WebhookRun) and run.delivered == 1
    [hit] = setup.receiver.wait_for_count(1)
    assert hit.headers[EVENT_HEADER] == "subscribed"
