"""Approval on schedule, driven by an injected clock against a real relay and a real SQLite
file: the draft is prepared `prepare_hours_before` the send and the editors are emailed a
link; nothing is sent unapproved; at the send time the edition is held (the editors told);
approved, it goes at the next desk run; never approved, it is skipped after max_delay_hours
with the reason."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.app import App
from digest.config import ScheduleSettings, Settings
from digest.errors import InputError
from digest.schedule import Runner, job_specs
from digest.store import editions as store
from digest.store import open_db
from tests.builders import add_articles, article, make_db, settings_for, subscribe
from tests.relay import Relay, running_relay

# Monday 30 November 2026, 08:00 UTC: the weekly send of 2026-W49.
SEND = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
EDITOR = "eve@example.com"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as r:
        yield r


def settings(path: Path, relay: Relay) -> Settings:
    base = settings_for(path, relay.url, concurrency=1)
    return dataclasses.replace(
        base,
        schedule=ScheduleSettings(
            weekly_day="mon",
            weekly_time="08:00",
            approval="required",
            prepare_hours_before=24,
            max_delay_hours=6,
        ),
    )


@pytest.fixture
def setup(tmp_path: Path, relay: Relay) -> tuple[Runner, Clock, Settings]:
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    add_articles(
        db,
        [article("o1", ("Opioid Drugs",), SEND - timedelta(days=2), "The story")],
        imported=SEND - timedelta(days=2),
    )
    subscribe(db, "ana@example.com", ("Opioid Drugs",), now=SEND - timedelta(days=60))
    db.close()
    conf = settings(path, relay)
    clock = Clock(SEND - timedelta(hours=25))
    core = App.open(conf, clock=clock)
    core.add_editor(EDITOR, "Eve")
    core.close()
    return Runner(conf, clock=clock), clock, conf


def editions(conf: Settings) -> list[tuple[str, str, str]]:
    db = open_db(conf.db_path)
    try:
        return [(e.period, e.status, e.note) for e in store.list_editions(db)]
    finally:
        db.close()


def approve(conf: Settings, clock: Clock, edition_id: int) -> None:
    core = App.open(conf, clock=clock)
    try:
        core.approve_edition(edition_id, editor="Eve")
    finally:
        core.close()


def test_prepare_notify_hold_approve_send(
    setup: tuple[Runner, Clock, Settings], relay: Relay
) -> None:
    runner, clock, conf = setup
    assert [j.id for j in job_specs(conf)] == [
        "send-weekly",
        "send-daily",
        "desk-weekly",
        "desk-daily",
    ]
    # 25 hours before: nothing yet.
    assert runner.desk_due("weekly").periods == []
    assert editions(conf) == [] and relay.received == []

    # 24 hours before: the draft, and a link for the editors.
    clock.now = SEND - timedelta(hours=24)
    runner.desk_due("weekly")
    assert editions(conf) == [("2026-W49", "draft", "")]
    [notice] = relay.wait_for_count(1)
    message = notice.message
    assert notice.recipients == [EDITOR]
    assert message["Subject"] == "Legal Reader: the weekly edition 2026-W49 is ready for review"
    body = message.get_content()
    assert "https://news.example.com/admin/editions/1" in body
    assert "It goes out at 2026-11-30 08:00 UTC once an editor has approved it." in body
    runner.desk_due("weekly")  # prepared once, notified once
    assert len(relay.received) == 1

    # The send time: not approved, so nothing goes; held, and the editors told.
    clock.now = SEND
    run = runner.send_due("weekly")
    assert (run.periods, run.statuses) == (["2026-W49"], ["held"])
    assert editions(conf) == [("2026-W49", "held", "")]
    [_, held] = relay.wait_for_count(2)
    assert held.recipients == [EDITOR]
    assert "is held until approved" in held.message["Subject"]
    clock.now = SEND + timedelta(minutes=5)
    assert runner.desk_due("weekly").statuses == ["held"]
    assert len(relay.received) == 2  # told once
    assert "ana@example.com" not in relay.by_recipient()

    # Approved an hour late: the next desk run sends it.
    clock.now = SEND + timedelta(hours=1)
    approve(conf, clock, 1)
    clock.now += timedelta(minutes=5)
    run = runner.desk_due("weekly")
    assert (run.statuses, run.sent) == (["complete"], 1)
    assert (
        relay.by_recipient()["ana@example.com"][0]
        .message["Subject"]
        .startswith("Legal Reader weekly")
    )
    assert editions(conf) == [("2026-W49", "sent", "")]


def test_never_approved_is_skipped_after_max_delay(
    setup: tuple[Runner, Clock, Settings], relay: Relay
) -> None:
    runner, clock, conf = setup
    clock.now = SEND - timedelta(hours=2)
    runner.desk_due("weekly")
    clock.now = SEND
    runner.send_due("weekly")
    # `digest send` refuses the held edition too, saying how to approve it.
    core = App.open(conf, clock=clock)
    try:
        with pytest.raises(InputError, match=r"is held and needs approval .* approve 1`$"):
            core.send("weekly", SEND)
    finally:
        core.close()
    clock.now = SEND + timedelta(hours=6, minutes=5)
    run = runner.desk_due("weekly")
    note = (
        "missed: due at 2026-11-30 08:00 UTC; not approved until 2026-11-30 14:05 UTC, more "
        "than 6 h later (schedule.max_delay_hours)"
    )
    assert (run.statuses, run.reasons) == (["skipped"], [note])
    assert editions(conf) == [("2026-W49", "skipped", note)]
    assert "ana@example.com" not in relay.by_recipient()
    # Approving it now is refused: it is skipped.
    core = App.open(conf, clock=clock)
    try:
        with pytest.raises(Exception, match="edition #1 is skipped"):
            core.approve_edition(1, editor="Eve")
    finally:
        core.close()


def test_approved_before_its_time_goes_at_its_time(
    setup: tuple[Runner, Clock, Settings], relay: Relay
) -> None:
    runner, clock, conf = setup
    clock.now = SEND - timedelta(hours=20)
    runner.desk_due("weekly")
    approve(conf, clock, 1)
    clock.now = SEND - timedelta(minutes=1)
    assert runner.send_due("weekly").periods == []
    clock.now = SEND
    run = runner.send_due("weekly")
    assert (run.statuses, run.sent) == (["complete"], 1)
    assert editions(conf) == [("2026-W49", "sent", "")]


def test_a_late_approved_send_that_resumes_counts_lateness_from_its_start(
    setup: tuple[Runner, Clock, Settings], relay: Relay
) -> None:
    """Approved 5 h late, its send begun (recipients fixed) and then interrupted: resumed at
    6.5 h, the readers are not 'missed', since the send only began at 5 h."""
    runner, clock, conf = setup
    clock.now = SEND - timedelta(hours=2)
    runner.desk_due("weekly")
    clock.now = SEND
    runner.send_due("weekly")  # held
    clock.now = SEND + timedelta(hours=5)
    core = App.open(conf, clock=clock)
    try:
        core.approve_edition(1, editor="Eve")
        core.start_edition(core.show_edition(1).edition, editor="test: a send that stopped")
    finally:
        core.close()
    clock.now = SEND + timedelta(hours=6, minutes=30)
    run = runner.send_due("weekly")
    assert (run.statuses, run.sent, run.missed) == (["complete"], 1, 0)
    assert editions(conf) == [("2026-W49", "sent", "")]
