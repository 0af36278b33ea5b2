"""The scheduling logic, driven by an injected clock: no sleeping. Sends go through the real
send loop to a real SMTP server on loopback (tests/relay.py) and a real SQLite file."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from apscheduler.triggers.cron import CronTrigger
from click.testing import CliRunner

from digest.cli import cli
from digest.config import FeedSettings, ScheduleSettings, Settings
from digest.deliver.smtp import SendResult, SmtpTransport
from digest.errors import SchedulerLockedError
from digest.models import OutgoingMessage
from digest.schedule import (
    EARLIEST_ZONE,
    LATEST_ZONE,
    Runner,
    SendSpec,
    candidate_days,
    delivery_state,
    edition_period,
    job_specs,
    latest_send_day,
    next_send_time,
    run_feed_job,
    run_send_job,
    send_time,
    single_runner,
    tick_minutes,
)
from digest.store import editions as store
from digest.store import open_db
from tests.builders import add_articles, app_for, article, make_db, settings_for, subscribe
from tests.relay import Relay, running_relay

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KATHMANDU = ZoneInfo("Asia/Kathmandu")  # +05:45
ST_JOHNS = ZoneInfo("America/St_Johns")  # -03:30 in winter
SIX_HOURS = timedelta(hours=6)
# Monday 30 November 2026 opens ISO week 2026-W49.
MONDAY = date(2026, 11, 30)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as r:
        yield r


def configure(path: Path, relay: Relay, **schedule: Any) -> Settings:
    base = settings_for(path, relay.url, concurrency=1)
    return dataclasses.replace(base, schedule=ScheduleSettings(**schedule))


def setup_db(path: Path, published: datetime) -> None:
    db = make_db(path)
    add_articles(db, [article("o1", ("Opioid Drugs",), published)], imported=published)
    db.close()


def add_readers(path: Path, readers: dict[str, str], frequency: str = "weekly") -> None:
    db = open_db(path)
    for email, zone in readers.items():
        subscribe(
            db,
            email,
            ("Opioid Drugs",),
            timezone=zone,
            frequency=frequency,
            now=datetime(2026, 1, 1, tzinfo=UTC),
        )
    db.close()


def weekly_editions(path: Path, frequency: str = "weekly") -> list[tuple[str, str, str]]:
    db = open_db(path)
    try:
        return sorted(
            (e.period, e.status, e.note)
            for e in store.list_editions(db)
            if e.frequency == frequency
        )
    finally:
        db.close()


def counts(relay: Relay) -> dict[str, int]:
    return {rcpt: len(items) for rcpt, items in relay.by_recipient().items()}


# --- when: pure functions ------------------------------------------------------------------


def test_send_time_across_dst_changes() -> None:
    weekly = SendSpec("weekly", 2, 30, weekday=6)
    # Berlin springs forward 02:00 -> 03:00 on 29 March: 02:30 does not exist, moved to 03:30.
    assert send_time(weekly, date(2026, 3, 29), BERLIN) == at("2026-03-29T03:30:00+02:00")
    # Berlin falls back 03:00 -> 02:00 on 25 October: 02:30 happens twice, taken the first time.
    assert send_time(weekly, date(2026, 10, 25), BERLIN) == at("2026-10-25T02:30:00+02:00")
    assert send_time(weekly, date(2026, 3, 8), NEW_YORK) == at("2026-03-08T03:30:00-04:00")
    daily = SendSpec("daily", 1, 30)
    assert send_time(daily, date(2026, 11, 1), NEW_YORK) == at("2026-11-01T01:30:00-04:00")
    assert send_time(daily, date(2026, 11, 2), NEW_YORK) == at("2026-11-02T01:30:00-05:00")


WEEKLY_SUN_0230 = SendSpec("weekly", 2, 30, weekday=6)
DAILY_0130 = SendSpec("daily", 1, 30)


@pytest.mark.parametrize(
    ("zone", "spec", "repeats"),
    [
        (BERLIN, WEEKLY_SUN_0230, 1),  # 25 October repeats 02:00-03:00
        (BERLIN, DAILY_0130, 0),
        (NEW_YORK, WEEKLY_SUN_0230, 0),
        (NEW_YORK, DAILY_0130, 1),  # 1 November repeats 01:00-02:00
        (ST_JOHNS, DAILY_0130, 1),
        (KATHMANDU, DAILY_0130, 0),
        (KATHMANDU, WEEKLY_SUN_0230, 0),
    ],
)
def test_send_times_match_apscheduler_cron_over_a_year(
    zone: ZoneInfo, spec: SendSpec, repeats: int
) -> None:
    """The pure functions and the CronTrigger the daemon schedules agree, DST included.
    The one difference: CronTrigger fires again when a fall-back repeats the send time; that
    run finds the edition complete (see the New York test below)."""
    cron = CronTrigger(
        day_of_week="sun" if spec.weekday == 6 else "*",
        hour=spec.hour,
        minute=spec.minute,
        timezone=zone,
    )
    start = at("2026-01-01T00:00:00+00:00")
    end = at("2027-01-01T00:00:00+00:00")
    fired: list[datetime] = []
    previous: datetime | None = None
    now = start
    while True:
        previous = cron.get_next_fire_time(previous, now)
        assert previous is not None
        if previous >= end:
            break
        fired.append(previous.astimezone(UTC))
        now = previous
    ours: list[datetime] = []
    moment = start
    while (moment := next_send_time(spec, zone, moment)) < end:
        ours.append(moment)
    assert len(ours) == (52 if spec.weekday is not None else 365)
    assert set(ours) <= set(fired)
    extra = sorted(set(fired) - set(ours))
    assert len(extra) == repeats
    for repeat in extra:  # the same wall-clock time, an hour after one of ours
        assert repeat - timedelta(hours=1) in ours


def test_latest_and_next_send_in_quarter_and_half_hour_zones() -> None:
    spec = SendSpec("weekly", 8, 0, weekday=0)
    # 08:00 Monday in Kathmandu (+05:45) is 02:15 UTC; in St John's (-03:30), 11:30 UTC.
    assert next_send_time(spec, KATHMANDU, at("2026-11-29T00:00:00+00:00")) == at(
        "2026-11-30T02:15:00+00:00"
    )
    assert next_send_time(spec, ST_JOHNS, at("2026-11-29T00:00:00+00:00")) == at(
        "2026-11-30T11:30:00+00:00"
    )
    assert latest_send_day(spec, KATHMANDU, at("2026-11-30T02:14:59+00:00")) == date(2026, 11, 23)
    assert latest_send_day(spec, KATHMANDU, at("2026-11-30T02:15:00+00:00")) == MONDAY
    assert latest_send_day(spec, ST_JOHNS, at("2026-11-30T11:29:00+00:00")) == date(2026, 11, 23)
    assert latest_send_day(spec, ST_JOHNS, at("2026-11-30T11:30:00+00:00")) == MONDAY


@pytest.mark.parametrize("site", ["UTC", "Pacific/Honolulu", "Pacific/Kiritimati"])
def test_period_is_the_send_days_period_for_every_reader(site: str) -> None:
    """Kiritimati (+14) reads Monday's digest while UTC is on Sunday (week 48) and Baker
    Island (-12) while UTC is on Tuesday; all of them get the edition of week 49."""
    settings = dataclasses.replace(Settings(), schedule=ScheduleSettings(timezone=site))
    weekly = SendSpec("weekly", 8, 0, weekday=0)
    assert send_time(weekly, MONDAY, EARLIEST_ZONE) == at("2026-11-29T18:00:00+00:00")
    assert send_time(weekly, MONDAY, LATEST_ZONE) == at("2026-11-30T20:00:00+00:00")
    assert edition_period(settings, weekly, MONDAY) == "2026-W49"
    # A Sunday send day belongs to the week it ends; on a site whose weekly day is Monday, a
    # Sunday reader's edition is that day's own.
    sunday = SendSpec("weekly", 8, 0, weekday=6)
    assert edition_period(settings, sunday, date(2026, 11, 29)) == "2026-W48-sun"
    on_sunday = dataclasses.replace(
        settings, schedule=ScheduleSettings(timezone=site, weekly_day="sun")
    )
    assert edition_period(on_sunday, sunday, date(2026, 11, 29)) == "2026-W48"
    assert edition_period(settings, SendSpec("daily", 7, 0), MONDAY) == "2026-11-30"


def test_candidate_days_bound_the_editions_in_progress() -> None:
    weekly = SendSpec("weekly", 8, 0, weekday=0)
    local = (EARLIEST_ZONE, LATEST_ZONE)
    # Before anyone on Earth reaches Monday 08:00, the newest send day is the previous Monday.
    assert candidate_days(weekly, local, at("2026-11-29T17:59:00+00:00"), SIX_HOURS) == [
        date(2026, 11, 23)
    ]
    assert candidate_days(weekly, local, at("2026-11-29T18:00:00+00:00"), SIX_HOURS) == [MONDAY]
    # With the site's zone only, just the latest scheduled day.
    assert candidate_days(weekly, (BERLIN,), at("2026-12-03T12:00:00+00:00"), SIX_HOURS) == [MONDAY]
    # Daily with local time: the zones' spread (26 h) keeps two days open at once: Kiritimati
    # is on Tuesday's digest while Baker Island still waits for Monday's.
    daily = SendSpec("daily", 8, 0)
    assert candidate_days(daily, local, at("2026-11-30T19:00:00+00:00"), SIX_HOURS) == [
        MONDAY,
        date(2026, 12, 1),
    ]
    # A day stays a candidate while its last zone is within max_delay.
    assert candidate_days(daily, local, at("2026-11-30T19:00:00+00:00"), timedelta(hours=24)) == [
        date(2026, 11, 29),
        MONDAY,
        date(2026, 12, 1),
    ]


def test_delivery_state() -> None:
    send_at = at("2026-11-30T07:00:00+00:00")
    assert delivery_state(send_at, None, send_at - timedelta(seconds=1), SIX_HOURS) == "waiting"
    assert delivery_state(send_at, None, send_at, SIX_HOURS) == "due"
    assert delivery_state(send_at, None, send_at + SIX_HOURS, SIX_HOURS) == "due"
    late = send_at + SIX_HOURS + timedelta(seconds=1)
    assert delivery_state(send_at, None, late, SIX_HOURS) == "missed"
    # An edition an editor created by hand later than the schedule is late from its creation.
    assert delivery_state(send_at, send_at + timedelta(hours=3), late, SIX_HOURS) == "due"


def test_tick_minutes_reach_every_quarter_hour_offset() -> None:
    assert tick_minutes(SendSpec("weekly", 8, 0, weekday=0)) == "0,15,30,45"
    assert tick_minutes(SendSpec("daily", 7, 5)) == "5,20,35,50"


def test_job_triggers_in_the_site_timezone() -> None:
    settings = dataclasses.replace(
        Settings(),
        schedule=ScheduleSettings(
            timezone="Europe/Berlin", weekly_day="tue", weekly_time="09:15", daily_time="06:30"
        ),
    )
    jobs = {job.id: job for job in job_specs(settings)}
    now = at("2026-11-28T12:00:00+00:00")
    weekly = jobs["send-weekly"].trigger.get_next_fire_time(None, now)
    daily = jobs["send-daily"].trigger.get_next_fire_time(None, now)
    # Every day: readers may choose their own weekly day (the site's is Tuesday).
    assert weekly == at("2026-11-29T09:15:00+01:00")
    assert daily == at("2026-11-29T06:30:00+01:00")
    # Across the spring change the wall-clock time stays, the UTC time moves.
    march = at("2026-03-28T12:00:00+00:00")
    first = jobs["send-daily"].trigger.get_next_fire_time(None, march)
    assert first == at("2026-03-29T06:30:00+02:00")


# --- what: the runner against a relay ------------------------------------------------------


def test_weekly_in_berlin_sends_at_its_time_and_only_once(tmp_path: Path, relay: Relay) -> None:
    path = tmp_path / "subscribers.db"
    setup_db(path, at("2026-11-29T12:00:00+00:00"))
    add_readers(path, {"ana@example.com": "UTC", "bo@example.com": "Asia/Kathmandu"})
    clock = Clock(at("2026-11-30T07:59:00+01:00"))
    runner = Runner(configure(path, relay, timezone="Europe/Berlin"), clock=clock)

    run = runner.send_due("weekly")
    assert run.periods == [] and relay.received == []
    assert weekly_editions(path) == []

    clock.now = at("2026-11-30T08:00:00+01:00")
    run = runner.send_due("weekly")
    assert (run.periods, run.statuses, run.sent) == (["2026-W49"], ["complete"], 2)
    clock.now += timedelta(minutes=15)
    assert runner.send_due("weekly").periods == []  # already complete: nothing redone
    assert counts(relay) == {"ana@example.com": 1, "bo@example.com": 1}
    assert weekly_editions(path) == [("2026-W49", "sent", "")]


def test_daily_on_the_fall_back_night_sends_once(tmp_path: Path, relay: Relay) -> None:
    """New York repeats 01:00-02:00 on 1 November: CronTrigger fires 01:30 twice."""
    path = tmp_path / "subscribers.db"
    setup_db(path, at("2026-10-31T20:00:00+00:00"))
    add_readers(path, {"ana@example.com": "UTC"}, frequency="daily")
    settings = configure(path, relay, timezone="America/New_York", daily_time="01:30")
    trigger = next(j for j in job_specs(settings) if j.id == "send-daily").trigger
    first = trigger.get_next_fire_time(None, at("2026-10-31T12:00:00+00:00"))
    assert first is not None
    second = trigger.get_next_fire_time(first, first)
    assert second is not None
    # UTC, because aware datetimes inside a repeated hour never compare equal across zones.
    first, second = first.astimezone(UTC), second.astimezone(UTC)
    assert (first, second) == (at("2026-11-01T01:30:00-04:00"), at("2026-11-01T01:30:00-05:00"))
    clock = Clock(first)
    runner = Runner(settings, clock=clock)
    assert runner.send_due("daily").sent == 1
    clock.now = second
    assert runner.send_due("daily").periods == []
    assert counts(relay) == {"ana@example.com": 1}
    assert weekly_editions(path, "daily") == [("2026-11-01", "sent", "")]


def test_missed_run_within_max_delay_is_sent(tmp_path: Path, relay: Relay) -> None:
    path = tmp_path / "subscribers.db"
    setup_db(path, at("2026-11-29T12:00:00+00:00"))
    add_readers(path, {"ana@example.com": "UTC"})
    # The scheduler starts at 13:30, five and a half hours after the 08:00 send.
    clock = Clock(at("2026-11-30T13:30:00+01:00"))
    run = Runner(configure(path, relay, timezone="Europe/Berlin"), clock=clock).send_due("weekly")
    assert (run.statuses, run.sent, run.missed) == (["complete"], 1, 0)
    assert counts(relay) == {"ana@example.com": 1}


def test_missed_run_beyond_max_delay_is_recorded_as_skipped(
    tmp_path: Path, relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "subscribers.db"
    setup_db(path, at("2026-11-29T12:00:00+00:00"))
    add_readers(path, {"ana@example.com": "UTC"})
    settings = configure(path, relay, timezone="Europe/Berlin")
    # Last week's edition went out, so this is a scheduler that was down, not a new install.
    clock = Clock(at("2026-11-23T08:00:00+01:00"))
    Runner(settings, clock=clock).send_due("weekly")
    relay.received.clear()

    clock.now = at("2026-12-03T09:00:00+01:00")  # Thursday
    runner = Runner(settings, clock=clock)
    with caplog.at_level(logging.WARNING, logger="digest.schedule"):
        run = runner.send_due("weekly")
    assert (run.periods, run.statuses, run.sent) == (["2026-W49"], ["skipped"], 0)
    note = (
        "missed: due at 2026-11-30 08:00 CET; the scheduler was not running until "
        "2026-12-03 09:00 CET, more than 6 h later (schedule.max_delay_hours)"
    )
    assert weekly_editions(path) == [("2026-W48", "sent", ""), ("2026-W49", "skipped", note)]
    assert caplog.messages == [f"weekly 2026-W49 skipped, {note}"]
    assert runner.send_due("weekly").periods == []  # the skip is final
    assert relay.received == []


def test_first_start_long_after_the_time_records_nothing(tmp_path: Path, relay: Relay) -> None:
    """A new install started on Thursday did not miss Monday: no skipped edition, so an
    editor can still send this week's digest by hand."""
    path = tmp_path / "subscribers.db"
    setup_db(path, at("2026-11-29T12:00:00+00:00"))
    add_readers(path, {"ana@example.com": "UTC"})
    clock = Clock(at("2026-12-03T09:00:00+01:00"))
    run = Runner(configure(path, relay, timezone="Europe/Berlin"), clock=clock).send_due("weekly")
    assert run.periods == [] and weekly_editions(path) == [] and relay.received == []


READERS = {
    "kiritimati@example.com": "Pacific/Kiritimati",  # +14
    "kathmandu@example.com": "Asia/Kathmandu",  # +05:45
    "berlin@example.com": "Europe/Berlin",  # +01
    "stjohns@example.com": "America/St_Johns",  # -03:30
    "newyork@example.com": "America/New_York",  # -05
    "baker@example.com": "Etc/GMT+12",  # -12
    "nozone@example.com": "",  # falls back to the site's zone
}
# Monday 08:00 local for each, in UTC.
EXPECTED = {
    "kiritimati@example.com": "2026-11-29T18:00",
    "kathmandu@example.com": "2026-11-30T02:15",
    "berlin@example.com": "2026-11-30T07:00",
    "stjohns@example.com": "2026-11-30T11:30",
    "newyork@example.com": "2026-11-30T13:00",
    "nozone@example.com": "2026-11-30T16:00",  # America/Los_Angeles, the site's zone
    "baker@example.com": "2026-11-30T20:00",
}


def add_local_readers(path: Path, readers: dict[str, str]) -> None:
    add_readers(path, {email: zone or "UTC" for email, zone in readers.items()})
    db = open_db(path)
    for email, zone in readers.items():
        if not zone:  # add_subscriber always stores a zone; an empty one means "unknown"
            db.execute("UPDATE subscribers SET timezone = '' WHERE email = ?", [email])
    db.conn.commit()
    db.close()


def tick_through(
    runner: Runner, clock: Clock, relay: Relay, start: datetime, end: datetime, minutes: int = 15
) -> dict[str, str]:
    """Run the send job at every tick; return when each reader's message arrived."""
    arrived: dict[str, str] = {}
    clock.now = start
    while clock.now <= end:
        runner.send_due("weekly")
        for rcpt in relay.by_recipient():
            arrived.setdefault(rcpt, clock.now.strftime("%Y-%m-%dT%H:%M"))
        clock.now += timedelta(minutes=minutes)
    return arrived


def test_local_time_reaches_each_reader_at_their_hour_in_one_edition(
    tmp_path: Path, relay: Relay
) -> None:
    path = tmp_path / "subscribers.db"
    setup_db(path, at("2026-11-28T12:00:00+00:00"))
    add_local_readers(path, READERS)
    settings = configure(path, relay, timezone="America/Los_Angeles", local_time=True)
    clock = Clock(at("2026-11-29T00:00:00+00:00"))
    runner = Runner(settings, clock=clock)
    arrived = tick_through(
        runner, clock, relay, at("2026-11-29T12:00:00+00:00"), at("2026-12-02T00:00:00+00:00")
    )
    assert arrived == EXPECTED
    assert set(counts(relay).values()) == {1}
    [(period, status, _)] = weekly_editions(path)
    assert (period, status) == ("2026-W49", "sent")
    # The edition was created (its cutoff fixed) by the first reader's tick.
    db = open_db(path)
    edition = store.find_edition(db, "weekly", "2026-W49")
    assert edition is not None and edition.ends_at == at("2026-11-29T18:00:00+00:00")
    db.close()


def test_local_time_across_the_spring_dst_change(tmp_path: Path, relay: Relay) -> None:
    """Sunday 02:30 does not exist in Berlin on 29 March 2026: the reader there gets the
    digest at 03:30 CEST; New York changed three weeks earlier; Kathmandu has no DST."""
    path = tmp_path / "subscribers.db"
    setup_db(path, at("2026-03-27T12:00:00+00:00"))
    add_local_readers(
        path,
        {
            "berlin@example.com": "Europe/Berlin",
            "newyork@example.com": "America/New_York",
            "kathmandu@example.com": "Asia/Kathmandu",
        },
    )
    settings = configure(path, relay, local_time=True, weekly_day="sun", weekly_time="02:30")
    clock = Clock(at("2026-03-28T00:00:00+00:00"))
    arrived = tick_through(
        Runner(settings, clock=clock),
        clock,
        relay,
        at("2026-03-28T12:00:00+00:00"),
        at("2026-03-30T00:00:00+00:00"),
    )
    assert arrived == {
        "kathmandu@example.com": "2026-03-28T20:45",
        "berlin@example.com": "2026-03-29T01:30",
        "newyork@example.com": "2026-03-29T06:30",
    }
    assert weekly_editions(path) == [("2026-W13", "sent", "")]


def test_local_time_after_downtime_skips_only_the_late_readers(
    tmp_path: Path, relay: Relay
) -> None:
    path = tmp_path / "subscribers.db"
    setup_db(path, at("2026-11-29T12:00:00+00:00"))
    add_local_readers(
        path,
        {
            "kathmandu@example.com": "Asia/Kathmandu",
            "berlin@example.com": "Europe/Berlin",
            "stjohns@example.com": "America/St_Johns",
            "newyork@example.com": "America/New_York",
        },
    )
    settings = configure(path, relay, local_time=True)
    db = open_db(path)  # last week's edition went out
    monday = at("2026-11-23T00:00Z")
    last_week = app_for(db, settings, clock=lambda: monday).open_edition(
        "weekly", monday, period="2026-W48"
    )
    store.mark_edition(db, last_week.id, "sent", at("2026-11-24T00:00Z"))
    db.close()

    # Down from Sunday evening until Monday 12:00 UTC.
    clock = Clock(at("2026-11-30T12:00:00+00:00"))
    runner = Runner(settings, clock=clock)
    run = runner.send_due("weekly")
    assert (run.sent, run.missed, run.statuses) == (2, 1, ["waiting"])
    assert counts(relay) == {"berlin@example.com": 1, "stjohns@example.com": 1}
    clock.now = at("2026-11-30T13:00:00+00:00")
    run = runner.send_due("weekly")
    assert (run.sent, run.statuses) == (1, ["complete"])
    db = open_db(path)
    edition = store.find_edition(db, "weekly", "2026-W49")
    assert edition is not None
    by_email = {d.email: d for d in store.deliveries_of(db, edition.id)}
    db.close()
    assert by_email["kathmandu@example.com"].status == "skipped"
    assert by_email["kathmandu@example.com"].reply == (
        "missed: due at 2026-11-30 08:00 +0545, more than 6 h ago"
    )
    assert set(counts(relay)) == {
        "berlin@example.com",
        "stjohns@example.com",
        "newyork@example.com",
    }


class StopAfter:
    """A transport that asks the send to stop once it has sent ``n`` messages, the way
    SIGTERM does in the daemon."""

    def __init__(self, inner: SmtpTransport, stop: threading.Event, n: int) -> None:
        self.inner, self.stop, self.n = inner, stop, n
        self.sent = 0

    def send(self, message: OutgoingMessage) -> SendResult:
        result = self.inner.send(message)
        self.sent += 1
        if self.sent >= self.n:
            self.stop.set()
        return result

    def close(self) -> None:
        self.inner.close()


def test_a_stopped_send_resumes_on_the_next_run(tmp_path: Path, relay: Relay) -> None:
    path = tmp_path / "subscribers.db"
    setup_db(path, at("2026-11-29T12:00:00+00:00"))
    emails = [f"reader{i}@example.com" for i in range(6)]
    add_readers(path, dict.fromkeys(emails, "UTC"))
    settings = configure(path, relay, timezone="UTC")
    clock = Clock(at("2026-11-30T08:00:00+00:00"))
    stop = threading.Event()
    runner = Runner(
        settings,
        clock=clock,
        stop=stop,
        transport_factory=lambda: StopAfter(
            SmtpTransport(settings.smtp.parsed, timeout=5), stop, 2
        ),
    )
    run = runner.send_due("weekly")
    assert run.statuses == ["stopped"] and run.sent == 2 and not run.retry

    clock.now += timedelta(hours=1)  # the next start, within max_delay
    run = Runner(settings, clock=clock).send_due("weekly")
    assert (run.statuses, run.sent) == (["complete"], 4)
    assert counts(relay) == dict.fromkeys(emails, 1)


def test_an_edition_locked_by_another_process_is_logged_and_retried(
    tmp_path: Path, relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "subscribers.db"
    setup_db(path, at("2026-11-29T12:00:00+00:00"))
    add_readers(path, {"ana@example.com": "UTC"})
    settings = configure(path, relay)
    now = at("2026-11-30T08:00:00+00:00")
    db = open_db(path)
    edition = app_for(db, settings, clock=lambda: now).open_edition(
        "weekly", now, period="2026-W49"
    )
    # An editor's `digest send` on another host holds the lease.
    db.execute(
        "INSERT INTO send_locks (edition_id, owner, pid, heartbeat_at) VALUES (?, ?, ?, ?)",
        [edition.id, "editor-laptop:4242", 4242, "2026-11-30T08:00:00Z"],
    )
    db.conn.commit()
    db.close()
    with caplog.at_level(logging.INFO, logger="digest.schedule"):
        run = run_send_job(Runner(settings, clock=Clock(now)), "weekly")
    assert run is not None and run.retry
    assert caplog.messages == [
        "job send-weekly start",
        f"job send-weekly end: edition {edition.id} is being sent by another process "
        "(editor-laptop:4242, last seen 2026-11-30T08:00:00Z); wait for it to finish, or stop "
        "it and run `digest send` again to resume; retrying in 5 min",
    ]
    assert relay.received == []


def test_feeds_are_refreshed_before_the_edition_is_created(
    tmp_path: Path, relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "subscribers.db"
    setup_db(path, at("2026-11-29T12:00:00+00:00"))
    add_readers(path, {"ana@example.com": "UTC"})
    feed = tmp_path / "courts.jsonl"
    feed.write_text(
        '{"url": "https://news.example.com/fresh", "title": "Fresh ruling", '
        '"published": "2026-11-30T07:30:00Z", "categories": ["Ignored"]}\n'
    )
    settings = dataclasses.replace(
        configure(path, relay), feeds=(FeedSettings(url=str(feed), category="Opioid Drugs"),)
    )
    clock = Clock(at("2026-11-30T08:00:00+00:00"))
    with caplog.at_level(logging.INFO, logger="digest.schedule"):
        run = Runner(settings, clock=clock).send_due("weekly")
    assert run.sent == 1
    assert caplog.messages[0] == f"feed {feed}: added=1 updated=0 unchanged=0"
    [received] = relay.received
    body = received.message.get_body(("plain",))
    assert body is not None and "Fresh ruling" in body.get_content()

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="digest.schedule"):
        run_feed_job(Runner(settings, clock=clock), "feed-1", settings.feeds[0])
    assert caplog.messages == [
        f"job feed-1 start: {feed}",
        "job feed-1 end: added=0 updated=0 unchanged=1",
    ]


def test_only_one_scheduler_per_database(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings(), db_path=str(tmp_path / "subscribers.db"))
    with single_runner(settings) as lock:
        assert lock.read_text() == f"{os.getpid()}\n"
        with pytest.raises(SchedulerLockedError) as e, single_runner(settings):
            pass
        assert str(e.value) == (
            f"another `digest schedule run` (pid {os.getpid()}) is already running against "
            f"{settings.db_path}; stop it first (lock file {lock})"
        )
    with single_runner(settings):  # released on exit
        pass


# --- digest schedule list -----------------------------------------------------------------


def test_schedule_list(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(
        '[schedule]\ntimezone = "Europe/Berlin"\nweekly_day = "mon"\n'
        '[[feeds]]\nurl = "https://news.example.com/feed.xml"\n'
        "refresh_minutes = 30\n"
    )
    with time_machine.travel(at("2026-11-28T08:10:00+00:00"), tick=False):
        result = CliRunner().invoke(
            cli,
            ["--config", str(config), "--db", str(tmp_path / "s.db"), "schedule", "list"],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Timezone: Europe/Berlin; local_time: off; max_delay_hours: 6\n"
        "send-weekly  2026-11-29 08:00 CET  weekly digest at 08:00 Europe/Berlin (readers' own "
        "day; default mon)\n"
        "send-daily   2026-11-29 07:00 CET  daily digest at 07:00 Europe/Berlin\n"
        "feed-1       2026-11-28 09:30 CET  refresh https://news.example.com/feed.xml every "
        "30 min\n"
    )


def test_schedule_list_with_local_time(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    make_db(path).close()
    add_local_readers(
        path, {"kathmandu@example.com": "Asia/Kathmandu", "stjohns@example.com": "America/St_Johns"}
    )
    config = tmp_path / "digest.toml"
    config.write_text('[schedule]\ntimezone = "Europe/Berlin"\nlocal_time = true\n')
    with time_machine.travel(at("2026-11-28T08:10:00+00:00"), tick=False):
        result = CliRunner().invoke(
            cli,
            ["--config", str(config), "--db", str(path), "schedule", "list"],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Timezone: Europe/Berlin; local_time: on; max_delay_hours: 6\n"
        "send-weekly  2026-11-28 09:15 CET  weekly digest at 08:00 in each reader's "
        "timezone (readers' own day; default mon)\n"
        "send-daily   2026-11-28 09:15 CET  daily digest at 07:00 in each reader's timezone\n"
        "Next weekly edition 2026-W49 (not started): first send 2026-11-30 03:15 CET "
        "(Asia/Kathmandu), last 2026-11-30 12:30 CET (America/St_Johns)\n"
        "Next daily edition: no active daily subscribers\n"
    )
