"""For `digest schedule list`: when the next edition goes out across the readers'
timezones, under local-time delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from digest.config import Settings
from digest.schedule.timing import (
    SendSpec,
    _zone,
    latest_send_day,
    period_label,
    reader_zone,
    send_time,
)
from digest.store import editions as store


@dataclass(frozen=True)
class NextEdition:
    """The next edition with sends ahead, under local-time delivery."""

    frequency: str
    period: str
    status: str  # 'not started', or the edition's status
    first: datetime
    first_zone: str
    last: datetime
    last_zone: str


def next_local_edition(
    db: sqlite_utils.Database, settings: Settings, frequency: str, now: datetime
) -> NextEdition | None:
    """First and last send time of the next edition across the readers' timezones."""
    spec = SendSpec.from_settings(settings, frequency)
    names = {row.timezone for row in store.iter_planned_recipients(db, frequency)}
    zones = {
        (name if _zone(name) else settings.schedule.timezone): reader_zone(settings, name)
        for name in names
    }
    if not zones:
        return None
    day = min(latest_send_day(spec, tz, now) for tz in zones.values())
    while max(send_time(spec, day, tz) for tz in zones.values()) <= now:
        day += timedelta(days=1)
        while not spec.is_send_day(day):
            day += timedelta(days=1)
    times = sorted((send_time(spec, day, tz), name) for name, tz in zones.items())
    period = period_label(settings, spec, day)
    edition = store.find_edition(db, frequency, period)
    return NextEdition(
        frequency,
        period,
        edition.status if edition else "not started",
        times[0][0],
        times[0][1],
        times[-1][0],
        times[-1][1],
    )
