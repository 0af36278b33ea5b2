"""When: pure functions of a ``SendSpec``, a timezone and a moment. The send time of a
send day in a timezone, the latest send day reached, the next send time, the period a send
day belongs to, and which deliveries are due, late or missed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.config import WEEKDAYS, Settings, parse_hhmm
from digest.curate import period_of

# The first and last places on Earth to reach a given wall-clock time (Kiritimati, Baker
# Island). Used only to bound which send days can be in progress; readers' real zones decide.
EARLIEST_ZONE = timezone(timedelta(hours=14))
LATEST_ZONE = timezone(timedelta(hours=-12))


@dataclass(frozen=True)
class SendSpec:
    """When one frequency is sent: a wall-clock time, and for weekly a day of the week."""

    frequency: str
    hour: int
    minute: int
    weekday: int | None = None  # 0 = Monday; None for daily

    @classmethod
    def from_settings(cls, settings: Settings, frequency: str) -> SendSpec:
        s = settings.schedule
        if frequency == "weekly":
            hour, minute = parse_hhmm(s.weekly_time, "schedule.weekly_time")
            return cls(frequency, hour, minute, site_weekday(settings))
        if frequency == "daily":
            hour, minute = parse_hhmm(s.daily_time, "schedule.daily_time")
            return cls(frequency, hour, minute)
        raise ValueError(f"unknown frequency {frequency!r}")

    def is_send_day(self, day: date) -> bool:
        return self.weekday is None or day.weekday() == self.weekday

    def describe(self) -> str:
        when = f"{self.hour:02d}:{self.minute:02d}"
        return f"{WEEKDAYS[self.weekday]} {when}" if self.weekday is not None else when


def send_time(spec: SendSpec, day: date, tz: tzinfo) -> datetime:
    """The UTC moment the wall clock in ``tz`` shows the send time on ``day``.

    A time skipped by a DST change (02:30 when clocks jump from 02:00 to 03:00) is moved
    forward by the gap (to 03:30); a time that happens twice is taken the first time. Python's
    fold=0 gives exactly this, and it matches APScheduler 3's CronTrigger."""
    return datetime.combine(day, time(spec.hour, spec.minute), tzinfo=tz).astimezone(UTC)


def previous_send_day(spec: SendSpec, day: date) -> date:
    day -= timedelta(days=1)
    while not spec.is_send_day(day):
        day -= timedelta(days=1)
    return day


def latest_send_day(spec: SendSpec, tz: tzinfo, now: datetime) -> date:
    """The last send day whose send time in ``tz`` is at or before ``now``."""
    day = now.astimezone(tz).date()
    if not spec.is_send_day(day):
        day = previous_send_day(spec, day)
    while send_time(spec, day, tz) > now:
        day = previous_send_day(spec, day)
    return day


def next_send_time(spec: SendSpec, tz: tzinfo, now: datetime) -> datetime:
    """The first send time in ``tz`` strictly after ``now`` (UTC)."""
    day = now.astimezone(tz).date() - timedelta(days=1)
    while True:
        if spec.is_send_day(day) and send_time(spec, day, tz) > now:
            return send_time(spec, day, tz)
        day += timedelta(days=1)


def edition_period(settings: Settings, spec: SendSpec, day: date) -> str:
    """The period of the edition sent on ``day``: the period containing that calendar date in
    the site's timezone (noon, so no DST change can move it to another date). A weekly
    edition on another weekday than the site's is that day's own: ``2026-W48-thu``."""
    noon = datetime.combine(day, time(12), tzinfo=settings.tz)
    period = period_of(spec.frequency, noon, settings.tz)[0]
    if spec.weekday is not None and spec.weekday != site_weekday(settings):
        return f"{period}-{WEEKDAYS[spec.weekday]}"
    return period


def site_weekday(settings: Settings) -> int:
    return WEEKDAYS.index(settings.schedule.weekly_day.lower()[:3])


def period_day(period: str) -> str:
    """The weekday of a day edition's period (``2026-W48-thu``: ``thu``); "" otherwise."""
    _, _, suffix = period.rpartition("-")
    return suffix if suffix in WEEKDAYS else ""


def day_period(settings: Settings, frequency: str, period: str, day: str) -> str:
    """The period of the weekly edition for readers of ``day`` (mon..sun; '' the site's) in
    the week ``period``: that week's own day edition unless the day is the site's, as the
    scheduler names it (:func:`edition_period`)."""
    if frequency != "weekly" or not day or day == WEEKDAYS[site_weekday(settings)]:
        return period
    return f"{period}-{day}"


def reader_days(settings: Settings, frequency: str, period: str) -> tuple[str, ...] | None:
    """The ``delivery_day`` values of the weekly readers an edition of ``period`` is for:
    a day edition's own day, or for the site's edition both '' (the site's day) and that
    day spelled out. None (every reader) for daily editions."""
    if frequency != "weekly":
        return None
    day = period_day(period)
    return (day,) if day else ("", WEEKDAYS[site_weekday(settings)])


def weekly_specs(settings: Settings, days: Iterable[str]) -> list[SendSpec]:
    """The weekly send specs in use: the site's day, and each other day a reader chose
    (``days``: delivery_day values, '' for the site's)."""
    site = SendSpec.from_settings(settings, "weekly")
    chosen = {WEEKDAYS.index(d) for d in days if d in WEEKDAYS} | {site_weekday(settings)}
    return [replace(site, weekday=w) for w in sorted(chosen)]


def candidate_days(
    spec: SendSpec, zones: tuple[tzinfo, ...], now: datetime, max_delay: timedelta
) -> list[date]:
    """Send days that may have work at ``now``, oldest first: the newest day some zone has
    reached, and older ones while some zone's send time is within ``max_delay``."""
    newest = max(latest_send_day(spec, tz, now) for tz in zones)
    days = [newest]
    day = previous_send_day(spec, newest)
    while max(send_time(spec, day, tz) for tz in zones) + max_delay >= now:
        days.append(day)
        day = previous_send_day(spec, day)
    return sorted(days)


@lru_cache(maxsize=1024)
def zone_or_none(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def reader_zone(settings: Settings, row_timezone: str) -> tzinfo:
    """The timezone a reader's digest is timed in: their own with local-time delivery (the
    site's when theirs is empty or unknown), else the site's."""
    if not settings.schedule.local_time:
        return settings.tz
    return zone_or_none(row_timezone) or settings.tz


def delivery_state(
    send_at: datetime, started_at: datetime | None, now: datetime, max_delay: timedelta
) -> str:
    """'missed', 'due' or 'waiting' for one delivery. For an edition that already existed
    (``started_at``, its creation), lateness counts from the later of the reader's send time
    and that creation, so an edition an editor started by hand after the scheduled time is not
    treated as late; for one this run creates, from the send time alone."""
    reference = max(send_at, started_at) if started_at else send_at
    if now - reference > max_delay:
        return "missed"
    return "due" if send_at <= now else "waiting"


def send_zones(settings: Settings) -> tuple[tzinfo, ...]:
    """The zones whose clocks bound which send days can be in progress."""
    if settings.schedule.local_time:
        return (EARLIEST_ZONE, LATEST_ZONE)
    return (settings.tz,)


def tick_minutes(spec: SendSpec) -> str:
    """Minutes past the hour at which some timezone reaches the send time: every zone in use
    is offset from UTC by a multiple of 15 minutes (+05:45, -03:30, +12:45...)."""
    return ",".join(str(m) for m in sorted({(spec.minute + k) % 60 for k in (0, 15, 30, 45)}))


def fmt(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
