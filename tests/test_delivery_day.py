"""A weekly reader's own delivery day (issue 17 point 3): the scheduler sends their digest on
that day at the weekly time in their timezone, from a day edition of its own, and a change of
day neither skips nor repeats an article. The clock is time-machine's; the sends go through the
real send loop to a real SMTP server on loopback and a real SQLite file."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from digest.app import App, Choices
from digest.config import ScheduleSettings, Settings
from digest.errors import InputError
from digest.models import Frequency
from digest.schedule import Runner
from digest.store import editions as store
from digest.store import open_db
from digest.timing import period_day, reader_days
from digest.validate import validate_delivery_day
from tests.builders import add_articles, article, make_db, settings_for, subscribe
from tests.relay import Relay, running_relay

CATEGORY = ("Courts",)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as r:
        yield r


def configure(path: Path, relay: Relay) -> Settings:
    """Monday 08:00 is the site's weekly send, in each reader's own timezone."""
    base = settings_for(path, relay.url, concurrency=1)
    schedule = ScheduleSettings(timezone="UTC", weekly_day="mon", local_time=True)
    return dataclasses.replace(base, schedule=schedule)


def publish(path: Path, key: str, when: str) -> None:
    db = open_db(path)
    moment = at(when)
    add_articles(db, [article(key, CATEGORY, moment)], imported=moment)
    db.close()


def articles_in(received: bytes) -> list[str]:
    return sorted({m.decode() for m in re.findall(rb"news\.example\.com/(a\d+)", received)})


class Ticks:
    """Runs the weekly send job every 15 minutes of (time-machine) time and notes when each
    message reached the relay, and which articles it carried."""

    def __init__(self, runner: Runner, relay: Relay) -> None:
        self.runner = runner
        self.relay = relay
        self.seen = 0
        self.got: list[tuple[str, str, list[str]]] = []  # (recipient, UTC time, articles)

    def until(self, start: str, end: str) -> None:
        moment, stop = at(start), at(end)
        while moment <= stop:
            with time_machine.travel(moment, tick=False):
                self.runner.send_due("weekly")
            for item in self.relay.received[self.seen :]:
                found = articles_in(item.data)
                for rcpt in item.recipients:
                    self.got.append((rcpt, moment.strftime("%a %Y-%m-%dT%H:%M"), found))
            self.seen = len(self.relay.received)
            moment += timedelta(minutes=15)

    def of(self, rcpt: str) -> list[tuple[str, list[str]]]:
        return [(when, found) for who, when, found in self.got if who == rcpt]


def change_day(settings: Settings, email: str, day: str, now: str) -> None:
    """What the preferences page does: save the reader's choices with a new day."""
    app = App.open(settings, clock=lambda: at(now))
    try:
        reader = app.find_subscriber(email)
        ids = tuple(app.reader_category_ids(reader.id))
        choices = Choices(
            name=reader.name,
            category_ids=ids,
            category_names=reader.categories,
            frequency=Frequency.WEEKLY,
            delivery_day=day,
        )
        assert app.save_reader_choices(reader.id, choices)
    finally:
        app.close()


def test_a_thursday_reader_gets_the_digest_on_thursday_and_a_day_change_skips_nothing(
    tmp_path: Path, relay: Relay
) -> None:
    path = tmp_path / "subscribers.db"
    make_db(path).close()
    db = open_db(path)
    joined = at("2026-11-20T12:00:00+00:00")
    subscribe(db, "monday@example.com", CATEGORY, timezone="Europe/Berlin", now=joined)
    subscribe(
        db,
        "thursday@example.com",
        CATEGORY,
        timezone="America/New_York",
        delivery_day="Thursday",
        now=joined,
    )
    db.close()
    settings = configure(path, relay)
    publish(path, "a1", "2026-11-27T10:00:00+00:00")  # Friday of week 48
    publish(path, "a2", "2026-12-01T10:00:00+00:00")  # Tuesday of week 49
    publish(path, "a3", "2026-12-02T10:00:00+00:00")  # Wednesday
    ticks = Ticks(Runner(settings), relay)

    ticks.until("2026-11-29T00:00:00+00:00", "2026-12-03T23:45:00+00:00")
    # Monday 08:00 in Berlin for the site's day; Thursday 08:00 in New York (13:00 UTC), not
    # Monday, for the reader who chose Thursday: with everything new up to their own day.
    assert ticks.of("monday@example.com") == [("Mon 2026-11-30T07:00", ["a1"])]
    assert ticks.of("thursday@example.com") == [("Thu 2026-12-03T13:00", ["a1", "a2", "a3"])]

    # Published after their Thursday digest; then they move to the site's Monday.
    publish(path, "a4", "2026-12-03T20:00:00+00:00")
    publish(path, "a5", "2026-12-04T10:00:00+00:00")
    change_day(settings, "thursday@example.com", "mon", "2026-12-04T12:00:00+00:00")
    ticks.until("2026-12-04T00:00:00+00:00", "2026-12-07T23:45:00+00:00")
    assert ticks.of("thursday@example.com")[1:] == [("Mon 2026-12-07T13:00", ["a4", "a5"])]

    # And back to Thursday, three days after a Monday digest: the next Thursday carries only
    # what came since that Monday.
    publish(path, "a6", "2026-12-08T10:00:00+00:00")
    change_day(settings, "thursday@example.com", "thu", "2026-12-08T12:00:00+00:00")
    ticks.until("2026-12-08T00:00:00+00:00", "2026-12-10T23:45:00+00:00")
    assert ticks.of("thursday@example.com")[2:] == [("Thu 2026-12-10T13:00", ["a6"])]

    # Every article once, none skipped, for both readers.
    for rcpt in ("monday@example.com", "thursday@example.com"):
        carried = [a for _, found in ticks.of(rcpt) for a in found]
        assert sorted(carried) == sorted(set(carried))
    thursday = [a for _, found in ticks.of("thursday@example.com") for a in found]
    assert sorted(thursday) == ["a1", "a2", "a3", "a4", "a5", "a6"]
    monday = [a for _, found in ticks.of("monday@example.com") for a in found]
    assert sorted(monday) == ["a1", "a2", "a3", "a4", "a5"]

    db = open_db(path)
    periods = sorted(e.period for e in store.list_editions(db) if e.frequency == "weekly")
    db.close()
    assert periods == ["2026-W49", "2026-W49-thu", "2026-W50", "2026-W50-thu"]


def test_day_editions_take_only_their_readers() -> None:
    settings = dataclasses.replace(Settings(), schedule=ScheduleSettings(weekly_day="tue"))
    assert reader_days(settings, "weekly", "2026-W49") == ("", "tue")
    assert reader_days(settings, "weekly", "2026-W49-thu") == ("thu",)
    assert reader_days(settings, "daily", "2026-12-01") is None
    assert period_day("2026-12-01") == ""


@pytest.mark.parametrize(
    ("raw", "day"), [("thu", "thu"), ("Thursday", "thu"), (" SUN ", "sun"), ("", "")]
)
def test_delivery_day_values(raw: str, day: str) -> None:
    assert validate_delivery_day(raw) == day


@pytest.mark.parametrize("raw", ["thurs", "th", "someday", "7"])
def test_delivery_day_refuses_other_words(raw: str) -> None:
    with pytest.raises(InputError, match="is not a day of the week"):
        validate_delivery_day(raw)
