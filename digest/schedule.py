"""Automatic sends: `digest schedule run` keeps the weekly and daily editions and the feed
refreshes going, calling the same library functions as `digest send` and
`digest articles import`.

Three layers, each testable on its own:

* *When* (pure functions of a ``SendSpec``, a timezone and a moment): the send time of a send
  day in a timezone, the latest send day reached, the next send time, the period a send day
  belongs to.
* *What* (``Runner.send_due``): given the clock, which editions are due, which deliveries are
  due, late or missed, and the one call to ``send_edition`` that sends them.
* *Keeping it going* (``run_daemon``): APScheduler 3 jobs, a retry after a failure, a lock so
  only one scheduler runs against a database, and a graceful stop.

Period identity. An edition is one frequency for one period: an ISO week ('2026-W49') or a
date ('2026-11-30'). The scheduler names the period by the *send day*, the calendar date on
which the digest goes out (a ``weekly_day`` for weekly). With local-time delivery every reader
gets the digest on that same calendar date in their own timezone, so the label is the same for
all of them however far apart their clocks are: a reader in Pacific/Kiritimati (+14) receives
Monday's 08:00 digest while it is still Sunday in UTC, and it is still the edition of the week
containing that Monday. The edition is created (and its cutoff fixed) when the first reader's
send time arrives; later timezones receive the same edition when theirs does.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time as monotime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlite_utils
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest.clock import Clock, system_clock
from digest.config import WEEKDAYS, FeedSettings, Settings, parse_hhmm
from digest.curate import lookback, period_of
from digest.deliver.send import SendReport, open_edition, send_edition
from digest.deliver.smtp import SmtpTransport, Transport, check_relay
from digest.errors import DigestError, SchedulerLockedError, SendLockedError
from digest.ingest import load_source
from digest.models import Edition
from digest.render import Renderer
from digest.store import editions as store
from digest.store import open_db, transaction
from digest.store.articles import UpsertCounts, upsert_articles
from digest.store.editions import RecipientRow

log = logging.getLogger(__name__)

FREQUENCIES = ("weekly", "daily")
# The first and last places on Earth to reach a given wall-clock time (Kiritimati, Baker
# Island). Used only to bound which send days can be in progress; readers' real zones decide.
EARLIEST_ZONE = timezone(timedelta(hours=14))
LATEST_ZONE = timezone(timedelta(hours=-12))
# After a failure (relay down, another process sending the edition) the send job runs again.
RETRY_AFTER = timedelta(minutes=5)
# Feed refreshes are aligned to this moment so `digest schedule list` can tell when they run.
FEED_ANCHOR = datetime(2024, 1, 1)


# --- when ---------------------------------------------------------------------------------


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
            return cls(frequency, hour, minute, WEEKDAYS.index(s.weekly_day.lower()[:3]))
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


def period_label(settings: Settings, spec: SendSpec, day: date) -> str:
    """The period of the edition sent on ``day``: the period containing that calendar date in
    the site's timezone (noon, so no DST change can move it to another date)."""
    noon = datetime.combine(day, time(12), tzinfo=settings.tz)
    return period_of(spec.frequency, noon, settings.tz)[0]


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
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def reader_zone(settings: Settings, row_timezone: str) -> tzinfo:
    """The timezone a reader's digest is timed in: their own with local-time delivery (the
    site's when theirs is empty or unknown), else the site's."""
    if not settings.schedule.local_time:
        return settings.tz
    return _zone(row_timezone) or settings.tz


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


# --- what ---------------------------------------------------------------------------------


@dataclass
class SendRun:
    """What one run of a send job did, summed over the editions it touched."""

    frequency: str
    periods: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # why stopped, incomplete or waiting
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    bounced: int = 0
    deferred: int = 0
    missed: int = 0  # deliveries dropped for being later than max_delay_hours
    retry: bool = False  # run again soon: stopped by the relay, deferrals, or locked

    def add(self, period: str, status: str, reason: str = "") -> None:
        self.periods.append(period)
        self.statuses.append(status)
        self.reasons.append(reason)

    def add_report(self, report: SendReport) -> None:
        reason = report.stop_reason
        if report.status == "stopped" and reason == "stopped":
            reason = "stopped by a signal; the rest goes out at the next start"
        self.add(report.period, report.status, reason)
        self.sent += report.sent
        self.skipped += report.skipped
        self.failed += report.failed
        self.bounced += report.bounced
        self.deferred += report.deferred

    def summary(self) -> str:
        editions = ", ".join(
            f"{period} {status}" + (f" ({reason})" if reason else "")
            for period, status, reason in zip(
                self.periods, self.statuses, self.reasons, strict=True
            )
        )
        return (
            f"{editions or 'nothing due'}; sent={self.sent} skipped={self.skipped} "
            f"failed={self.failed} bounced={self.bounced} deferred={self.deferred} "
            f"missed={self.missed}"
        )


class Runner:
    """Does the scheduled work against one settings object. Each call opens its own database
    connection, so jobs can run on the scheduler's worker threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        stop: threading.Event | None = None,
        transport_factory: Callable[[], Transport] | None = None,
        check: Callable[[], None] | None = None,
        renderer_factory: Callable[[], Renderer] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.stop = stop or threading.Event()
        smtp = settings.smtp
        self.transport_factory = transport_factory or (
            lambda: SmtpTransport(smtp.parsed, timeout=smtp.timeout)
        )
        self.check = check or (lambda: check_relay(smtp.parsed, timeout=smtp.timeout))
        self.renderer_factory = renderer_factory or (lambda: Renderer(settings))
        self.max_delay = timedelta(hours=settings.schedule.max_delay_hours)
        # One send at a time (weekly and daily share the relay); one refresh at a time.
        self._send_lock = threading.Lock()
        self._feed_lock = threading.RLock()

    # feeds

    def refresh_feed(self, feed: FeedSettings) -> UpsertCounts:
        """What `digest articles import URL [--category C]` does, for one [[feeds]] entry."""
        now = self.clock()
        categories = (feed.category,) if feed.category else ()
        with self._feed_lock:
            found = load_source(feed.url, now=now, categories=categories)
            db = open_db(self.settings.db_path)
            try:
                return upsert_articles(db, found, now, source=feed.url)
            finally:
                db.close()

    def refresh_feeds(self) -> int:
        """Refresh every feed, logging one line each; returns how many failed."""
        failed = 0
        with self._feed_lock:
            for feed in self.settings.feeds:
                if self.stop.is_set():
                    break
                try:
                    counts = self.refresh_feed(feed)
                except DigestError as e:
                    failed += 1
                    log.warning("feed %s: %s", feed.url, e)
                    continue
                log.info(
                    "feed %s: added=%d updated=%d unchanged=%d",
                    feed.url,
                    counts.added,
                    counts.updated,
                    counts.unchanged,
                )
        return failed

    # sends

    def send_due(self, frequency: str) -> SendRun:
        """Send whatever of ``frequency`` is due now; record what was missed."""
        spec = SendSpec.from_settings(self.settings, frequency)
        run = SendRun(frequency)
        with self._send_lock:
            now = self.clock()
            db = open_db(self.settings.db_path)
            try:
                days = candidate_days(spec, send_zones(self.settings), now, self.max_delay)
                for day in days:
                    if self.stop.is_set():
                        break
                    self._send_day(db, spec, day, now, run)
            finally:
                db.close()
        return run

    def _send_at(self, spec: SendSpec, day: date, row: RecipientRow) -> datetime:
        return send_time(spec, day, reader_zone(self.settings, row.timezone))

    def _send_day(
        self, db: sqlite_utils.Database, spec: SendSpec, day: date, now: datetime, run: SendRun
    ) -> None:
        period = period_label(self.settings, spec, day)
        edition = store.find_edition(db, spec.frequency, period)
        if edition is not None and edition.status != "open":
            log.debug("%s %s: already %s", spec.frequency, period, edition.status)
            return
        started_at = edition.created_at if edition is not None else None
        if edition is None:
            edition = self._start_edition(db, spec, day, period, now, run)
            if edition is None:
                return
        self._continue_edition(db, spec, day, edition, started_at, now, run)

    def _start_edition(
        self,
        db: sqlite_utils.Database,
        spec: SendSpec,
        day: date,
        period: str,
        now: datetime,
        run: SendRun,
    ) -> Edition | None:
        """Create the edition once any reader's send time has come, after refreshing the
        feeds (its cutoff is fixed now). If every reader's time is past max_delay, record the
        edition as skipped instead, so nobody gets last Monday's digest on Thursday."""
        readers, reached, first = 0, False, None
        in_time = False
        for row in store.iter_planned_recipients(
            db, spec.frequency, batch=self.settings.sending.page_size
        ):
            readers += 1
            at = self._send_at(spec, day, row)
            first = at if first is None else min(first, at)
            state = delivery_state(at, None, now, self.max_delay)
            reached = reached or state != "waiting"
            in_time = in_time or state != "missed"
        if not readers or not reached or first is None:
            return None  # nobody subscribes to this frequency, or nobody's time has come
        if not in_time:
            hours = self.settings.schedule.max_delay_hours
            if not any(e.frequency == spec.frequency for e in store.list_editions(db)):
                # A first start (a new install) missed nothing. A skipped record would also
                # stop the editors from sending this period by hand with `digest send`.
                log.info(
                    "%s %s was due at %s, more than %g h ago; first run, so it is "
                    "neither sent nor recorded as skipped",
                    spec.frequency,
                    period,
                    fmt(first, self.settings.tz),
                    hours,
                )
                return None
            note = (
                f"missed: due at {fmt(first, self.settings.tz)}; the scheduler was not "
                f"running until {fmt(now, self.settings.tz)}, more than {hours:g} h "
                "later (schedule.max_delay_hours)"
            )
            try:
                store.skip_missed_edition(
                    db,
                    frequency=spec.frequency,
                    period=period,
                    starts_at=first - lookback(self.settings, spec.frequency),
                    ends_at=first,
                    now=now,
                    note=note,
                )
            except sqlite3.IntegrityError:
                return None  # someone created it meanwhile; the next run sees it
            log.warning("%s %s skipped, %s", spec.frequency, period, note)
            run.add(period, "skipped")
            return None
        if self.settings.feeds:
            self.refresh_feeds()
        if self.stop.is_set():
            return None
        self.check()  # relay down: fail before fixing a cutoff and a recipient list
        now = self.clock()
        return open_edition(db, self.settings, spec.frequency, now, now, period=period)

    def _continue_edition(
        self,
        db: sqlite_utils.Database,
        spec: SendSpec,
        day: date,
        edition: Edition,
        started_at: datetime | None,
        now: datetime,
        run: SendRun,
    ) -> None:
        missed: list[tuple[int, str]] = []
        due = waiting = 0
        for row in store.iter_open_deliveries(
            db, edition.id, batch=self.settings.sending.page_size
        ):
            tz = reader_zone(self.settings, row.timezone)
            at = send_time(spec, day, tz)
            state = delivery_state(at, started_at, now, self.max_delay)
            if state == "missed":
                missed.append(
                    (
                        row.subscriber_id,
                        f"missed: due at {fmt(at, tz)}, more than "
                        f"{self.settings.schedule.max_delay_hours:g} h ago",
                    )
                )
            elif state == "due":
                due += 1
            else:
                waiting += 1
        if missed:
            self._skip_missed(db, edition, missed, now)
            run.missed += len(missed)
        if due:
            local = self.settings.schedule.local_time

            def is_due(row: RecipientRow) -> bool:
                return self._send_at(spec, day, row) <= now

            report = send_edition(
                db,
                self.settings,
                self.renderer_factory(),
                frequency=spec.frequency,
                as_of=now,
                clock=self.clock,
                transport_factory=self.transport_factory,
                stop=self.stop,
                edition=edition,
                due=is_due if local else None,
            )
            run.add_report(report)
            if report.status in ("stopped", "incomplete") and not self.stop.is_set():
                run.retry = True
        elif not waiting:
            # Everything left was missed (or an earlier run died before closing it).
            note = f"{len(missed)} deliveries skipped as missed" if missed else ""
            store.mark_edition(db, edition.id, "complete", now, note=note)
            run.add(edition.period, "complete")
        else:
            run.add(edition.period, "waiting")

    def _skip_missed(
        self,
        db: sqlite_utils.Database,
        edition: Edition,
        missed: list[tuple[int, str]],
        now: datetime,
    ) -> None:
        # Under the edition's lease, so a `digest send` running meanwhile cannot race us.
        store.acquire_send_lock(db, edition.id, now)
        try:
            with transaction(db):
                for subscriber_id, why in missed:
                    store.mark_delivery(db, edition.id, subscriber_id, "skipped", now, reply=why)
        finally:
            store.release_send_lock(db, edition.id)
        log.warning(
            "%s %s: %d deliveries skipped, more than %g h past their send time",
            edition.frequency,
            edition.period,
            len(missed),
            self.settings.schedule.max_delay_hours,
        )


# --- keeping it going ---------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """One scheduler job: a send job (``frequency``) or a feed refresh (``feed``)."""

    id: str
    description: str
    trigger: BaseTrigger
    frequency: str = ""
    feed: FeedSettings | None = None


def job_specs(settings: Settings) -> list[JobSpec]:
    """The jobs `digest schedule run` runs and `digest schedule list` shows."""
    s = settings.schedule
    jobs: list[JobSpec] = []
    for frequency in FREQUENCIES:
        spec = SendSpec.from_settings(settings, frequency)
        trigger: BaseTrigger
        if s.local_time:
            # A tick at every quarter hour some timezone reaches the send time; each tick
            # sends to the readers whose local time has come (Runner.send_due decides).
            trigger = CronTrigger(minute=tick_minutes(spec), timezone=UTC)
            what = f"{frequency} digest at {spec.describe()} in each reader's timezone"
        else:
            day = WEEKDAYS[spec.weekday] if spec.weekday is not None else "*"
            trigger = CronTrigger(
                day_of_week=day, hour=spec.hour, minute=spec.minute, timezone=settings.tz
            )
            what = f"{frequency} digest at {spec.describe()} {s.timezone}"
        jobs.append(JobSpec(f"send-{frequency}", what, trigger, frequency=frequency))
    for i, feed in enumerate(settings.feeds, 1):
        if feed.refresh_minutes < 1:
            raise DigestError(
                f"feeds[{i - 1}].refresh_minutes: expected at least 1, got {feed.refresh_minutes}"
            )
        # Anchored, so refreshes fall on predictable times (every 60 min: on the hour).
        trigger = IntervalTrigger(
            minutes=feed.refresh_minutes,
            start_date=FEED_ANCHOR.replace(tzinfo=settings.tz),
            timezone=settings.tz,
        )
        jobs.append(
            JobSpec(
                f"feed-{i}",
                f"refresh {feed.url} every {feed.refresh_minutes} min",
                trigger,
                feed=feed,
            )
        )
    return jobs


def run_send_job(runner: Runner, frequency: str) -> SendRun | None:
    """One run of a send job, logged as one start and one end line. Never raises: a failure
    is logged and the returned run asks for a retry."""
    if runner.stop.is_set():
        return None
    job = f"send-{frequency}"
    retry_note = f"; retrying in {RETRY_AFTER.seconds // 60} min"
    log.info("job %s start", job)
    started = monotime.monotonic()
    try:
        run = runner.send_due(frequency)
    except SendLockedError as e:
        # An editor's `digest send` (or another host) is sending this edition right now.
        log.warning("job %s end: %s%s", job, e, retry_note)
        return SendRun(frequency, retry=True)
    except DigestError as e:
        log.error("job %s end: %s%s", job, e, retry_note)
        return SendRun(frequency, retry=True)
    except Exception as e:  # keep the daemon alive; the traceback is for a bug report
        log.exception("job %s end: unexpected error: %s%s", job, e, retry_note)
        return SendRun(frequency, retry=True)
    elapsed = monotime.monotonic() - started
    failed = run.retry or run.failed or run.bounced or run.deferred
    log.log(
        logging.WARNING if failed else logging.INFO,
        "job %s end: %s (%.1f s)%s",
        job,
        run.summary(),
        elapsed,
        retry_note if run.retry else "",
    )
    return run


def run_feed_job(runner: Runner, job: str, feed: FeedSettings) -> None:
    """One feed refresh, logged as one start and one end line. Never raises."""
    if runner.stop.is_set():
        return
    log.info("job %s start: %s", job, feed.url)
    try:
        counts = runner.refresh_feed(feed)
    except DigestError as e:
        log.warning("job %s end: %s", job, e)
        return
    except Exception as e:
        log.exception("job %s end: unexpected error: %s", job, e)
        return
    log.info(
        "job %s end: added=%d updated=%d unchanged=%d",
        job,
        counts.added,
        counts.updated,
        counts.unchanged,
    )


def run_daemon(settings: Settings, runner: Runner, stop: threading.Event) -> None:
    """Run every job until ``stop`` is set, then wait for running jobs to reach a safe point
    (a send stops at the next message boundary) and return.

    misfire_grace_time=None: APScheduler always runs a late job (after a suspend, or while
    another job held the worker), and ``send_due`` itself decides from max_delay_hours whether
    it is still worth sending. Each send job also runs once at start for the same reason."""
    scheduler = BackgroundScheduler(
        timezone=settings.tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )

    def send_job(frequency: str) -> None:
        run = run_send_job(runner, frequency)
        if run is not None and run.retry and not stop.is_set():
            scheduler.add_job(
                send_job,
                "date",
                args=[frequency],
                id=f"retry-{frequency}",
                run_date=datetime.now(UTC) + RETRY_AFTER,
                replace_existing=True,
            )

    now = datetime.now(settings.tz)
    s = settings.schedule
    log.info(
        "scheduler starting: database %s, timezone %s, local_time %s, max_delay_hours %g",
        settings.db_path,
        s.timezone,
        "on" if s.local_time else "off",
        s.max_delay_hours,
    )
    for job in job_specs(settings):
        upcoming = job.trigger.get_next_fire_time(None, now)
        log.info(
            "job %s: %s; next %s",
            job.id,
            job.description,
            fmt(upcoming, settings.tz) if upcoming else "never",
        )
        if job.feed is not None:
            scheduler.add_job(
                run_feed_job,
                job.trigger,
                args=[runner, job.id, job.feed],
                id=job.id,
                name=job.description,
                next_run_time=now,
            )
        else:
            scheduler.add_job(
                send_job,
                job.trigger,
                args=[job.frequency],
                id=job.id,
                name=job.description,
                next_run_time=now,
            )
    scheduler.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping: waiting for running jobs to reach a safe point")
        stop.set()
        scheduler.shutdown(wait=True)
    log.info("stopped")


def lock_path(settings: Settings) -> Path:
    return Path(f"{settings.db_path}.schedule.lock")


@contextmanager
def single_runner(settings: Settings) -> Iterator[Path]:
    """Hold an exclusive flock on a file next to the database for as long as the scheduler
    runs. The OS releases it when the process dies, however it dies, so there is nothing stale
    to clean up; the file itself stays (deleting it would race with the next runner)."""
    path = lock_path(settings)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise SchedulerLockedError(
            f"another `digest schedule run` (pid {holder}) is already running against "
            f"{settings.db_path}; stop it first (lock file {path})"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        os.close(fd)


# --- for `digest schedule list` -----------------------------------------------------------


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
