"""What: ``Runner.send_due`` decides from the clock which editions are due, which
deliveries are due, late or missed, and makes the one call to ``send_edition`` that sends
them; ``Runner.refresh_feeds`` does what `digest articles import` does for each feed."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlite_utils

from digest.clock import Clock, system_clock
from digest.config import FeedSettings, Settings
from digest.curate import lookback
from digest.deliver.send import SendReport, open_edition, send_edition
from digest.deliver.smtp import SmtpTransport, Transport, check_relay
from digest.errors import DigestError
from digest.ingest import load_source
from digest.models import Edition
from digest.render import Renderer
from digest.schedule.timing import (
    SendSpec,
    candidate_days,
    delivery_state,
    fmt,
    period_label,
    reader_zone,
    send_time,
    send_zones,
)
from digest.store import editions as store
from digest.store import open_db, transaction
from digest.store.articles import UpsertCounts, upsert_articles
from digest.store.editions import RecipientRow

# One logger for the whole package, as before the split: operators filter on it and the
# daemon tests match its lines.
log = logging.getLogger("digest.schedule")


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
