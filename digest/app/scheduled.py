"""Use cases for the scheduler: send whatever is due now (which editions are due, which
deliveries are due, late or missed, and the one send that sends them), and refresh the
feeds. `digest schedule run` (digest.schedule) only decides *when* to call these."""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from digest.app.approval import Approvals
from digest.app.content import Content
from digest.config import FeedSettings
from digest.curate import lookback
from digest.deliver.report import SendReport
from digest.errors import DigestError
from digest.models import DeliveryStatus, Edition, EditionStatus, RecipientRow, UpsertCounts
from digest.store import desk as desk_store
from digest.store import editions as store
from digest.store import leases, transaction
from digest.timing import (
    SendSpec,
    candidate_days,
    delivery_state,
    edition_period,
    fmt,
    latest_send_day,
    period_day,
    reader_days,
    reader_zone,
    send_time,
    send_zones,
    weekly_specs,
    zone_or_none,
)

# The scheduler's logger: operators filter on it and the daemon tests match its lines.
log = logging.getLogger("digest.schedule")
# One send at a time (weekly and daily share the relay); one feed refresh at a time.
_SEND_LOCK = threading.Lock()
_FEED_LOCK = threading.RLock()


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


class Scheduled(Approvals, Content):
    def next_local_edition(self, frequency: str, now: datetime) -> NextEdition | None:
        """First and last send time of the next edition across the readers' timezones."""
        spec = SendSpec.from_settings(self.settings, frequency)
        # The site's day's edition (readers who chose another day have editions of their own).
        days = reader_days(self.settings, frequency, "")
        names = {
            row.timezone for row in store.iter_planned_recipients(self.db, frequency, days=days)
        }
        site_zone = self.settings.schedule.timezone
        zones = {
            (name if zone_or_none(name) else site_zone): reader_zone(self.settings, name)
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
        period = edition_period(self.settings, spec, day)
        edition = store.find_edition(self.db, frequency, period)
        return NextEdition(
            frequency,
            period,
            edition.status if edition else "not started",
            times[0][0],
            times[0][1],
            times[-1][0],
            times[-1][1],
        )

    def refresh_feeds(self, *, stop: threading.Event) -> int:
        """Refresh every [[feeds]] entry, logging one line each; returns how many failed.
        One refresh at a time (the interval jobs and the pre-send refresh share it)."""
        failed = 0
        with _FEED_LOCK:
            for feed in self.settings.feeds:
                if stop.is_set():
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

    def refresh_feed(self, feed: FeedSettings) -> UpsertCounts:
        with _FEED_LOCK:
            return Content.refresh_feed(self, feed)

    def send_due(self, frequency: str, *, stop: threading.Event) -> SendRun:
        """Send whatever of ``frequency`` is due now; record what was missed. One send at a
        time: the weekly and daily jobs share the relay."""
        # Broken templates: refuse before a feed refresh, a skip record or an edition.
        self.ensure_templates()
        run = SendRun(frequency)
        with _SEND_LOCK:
            now = self.now()
            due = sorted(
                (day, spec.weekday or 0, spec)
                for spec in self._send_specs(frequency)
                for day in candidate_days(spec, send_zones(self.settings), now, self._max_delay)
            )
            for day, _, spec in due:
                if stop.is_set():
                    break
                self._send_day(spec, day, now, run, stop)
        return run

    def _send_specs(self, frequency: str) -> list[SendSpec]:
        """Daily: one. Weekly: the site's day and every other day a weekly reader chose; each
        day has editions of its own (README "Delivery day")."""
        if frequency != "weekly":
            return [SendSpec.from_settings(self.settings, frequency)]
        return weekly_specs(self.settings, store.delivery_days(self.db))

    def desk_due(self, frequency: str, *, stop: threading.Event) -> SendRun:
        """With approval required, every few minutes: prepare the next draft when its time
        comes, and send a held edition the moment it is approved (or skip it once it is
        more than max_delay_hours late)."""
        run = SendRun(frequency)
        if not self.approval_required:
            return run
        self.prepare_due(frequency)
        now = self.now()
        waiting = [
            e
            for e in self.upcoming_editions()
            if e.frequency == frequency
            and (
                e.status == EditionStatus.HELD
                or (e.status == EditionStatus.APPROVED and e.due_at is not None and e.due_at <= now)
            )
        ]
        return self.send_due(frequency, stop=stop) if waiting else run

    @property
    def _max_delay(self) -> timedelta:
        return timedelta(hours=self.settings.schedule.max_delay_hours)

    def _send_at(self, spec: SendSpec, day: date, row: RecipientRow) -> datetime:
        return send_time(spec, day, reader_zone(self.settings, row.timezone))

    def _send_day(
        self, spec: SendSpec, day: date, now: datetime, run: SendRun, stop: threading.Event
    ) -> None:
        period = edition_period(self.settings, spec, day)
        edition = store.find_edition(self.db, spec.frequency, period)
        if edition is not None and edition.status.finished:
            log.debug("%s %s: already %s", spec.frequency, period, edition.status)
            return
        started = edition is not None and edition.status == EditionStatus.SENDING
        # Lateness counts from when its send began (a held edition approved late), not from
        # when it was prepared.
        started_at = (edition.started_at or edition.created_at) if edition and started else None
        if edition is None or not started:
            edition = self._start_edition(spec, day, period, now, run, stop)
            if edition is None:
                return
        self._continue_edition(spec, day, edition, started_at, now, run, stop)

    def _start_edition(
        self,
        spec: SendSpec,
        day: date,
        period: str,
        now: datetime,
        run: SendRun,
        stop: threading.Event,
    ) -> Edition | None:
        """Create the edition once any reader's send time has come, after refreshing the
        feeds (its cutoff is fixed now). If every reader's time is past max_delay, record the
        edition as skipped instead, so nobody gets last Monday's digest on Thursday."""
        readers, reached, first = 0, False, None
        in_time = False
        db = self.db
        for row in store.iter_planned_recipients(
            db,
            spec.frequency,
            batch=self.settings.sending.page_size,
            days=reader_days(self.settings, spec.frequency, period),
        ):
            readers += 1
            at = self._send_at(spec, day, row)
            first = at if first is None else min(first, at)
            state = delivery_state(at, None, now, self._max_delay)
            reached = reached or state != "waiting"
            in_time = in_time or state != "missed"
        if not readers or not reached or first is None:
            return None  # nobody subscribes to this frequency, or nobody's time has come
        prepared = store.find_edition(db, spec.frequency, period)
        if prepared is not None and not in_time:
            self._skip_prepared(prepared, first, now, run)
            return None
        if prepared is not None and prepared.awaiting_approval:
            self.hold_edition(prepared, first)
            run.add(period, "held", "waiting for an editor's approval")
            return None
        if not in_time:
            hours = self.settings.schedule.max_delay_hours
            history = [
                e
                for e in store.list_editions(db)
                if e.frequency == spec.frequency
                and not e.status.steerable  # drafts: not yet
                and period_day(e.period) == period_day(period)  # this weekday's editions
            ]
            if not history:
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
            self.refresh_feeds(stop=stop)
        if stop.is_set():
            return None
        self.check_relay()  # relay down: fail before fixing a cutoff and a recipient list
        now = self.now()
        edition = self.open_edition(spec.frequency, now, period=period)
        if edition.status.steerable:  # prepared beforehand: its cutoff is already fixed
            if edition.awaiting_approval:  # made just now, under approval = required
                self.hold_edition(edition, first)
                run.add(period, "held", "waiting for an editor's approval")
                return None
            edition = self.start_edition(edition, editor="scheduler")
        return edition

    def _skip_prepared(
        self, edition: Edition, first: datetime, now: datetime, run: SendRun
    ) -> None:
        """A prepared edition whose time is past max_delay_hours: recorded as skipped, with
        why (never approved, or the scheduler was not running)."""
        hours = self.settings.schedule.max_delay_hours
        tz = self.settings.tz
        why = "not approved" if edition.awaiting_approval else "the scheduler was not running"
        note = (
            f"missed: due at {fmt(first, tz)}; {why} until {fmt(now, tz)}, more than "
            f"{hours:g} h later (schedule.max_delay_hours)"
        )
        skipped = desk_store.set_status(
            self.db,
            edition.id,
            EditionStatus.SKIPPED,
            allowed_from=(EditionStatus.DRAFT, EditionStatus.APPROVED, EditionStatus.HELD),
            now=now,
            editor="scheduler",
            action="skip",
            detail=note,
        )
        if skipped:
            log.warning("%s %s skipped, %s", edition.frequency, edition.period, note)
            run.add(edition.period, "skipped", note)

    def _continue_edition(
        self,
        spec: SendSpec,
        day: date,
        edition: Edition,
        started_at: datetime | None,
        now: datetime,
        run: SendRun,
        stop: threading.Event,
    ) -> None:
        db = self.db
        missed: list[tuple[int, str]] = []
        due = waiting = 0
        for row in store.iter_open_deliveries(
            db, edition.id, batch=self.settings.sending.page_size
        ):
            tz = reader_zone(self.settings, row.timezone)
            at = send_time(spec, day, tz)
            state = delivery_state(at, started_at, now, self._max_delay)
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
            self._skip_missed(edition, missed, now)
            run.missed += len(missed)
        if due:
            local = self.settings.schedule.local_time

            def is_due(row: RecipientRow) -> bool:
                return self._send_at(spec, day, row) <= now

            report = self.send(
                spec.frequency, now, edition=edition, stop=stop, due=is_due if local else None
            )
            run.add_report(report)
            if report.status in ("stopped", "incomplete") and not stop.is_set():
                run.retry = True
        elif not waiting:
            # Everything left was missed (or an earlier run died before closing it).
            note = f"{len(missed)} deliveries skipped as missed" if missed else ""
            store.mark_edition(db, edition.id, EditionStatus.SENT, now, note=note)
            run.add(edition.period, "complete")
        else:
            run.add(edition.period, "waiting")

    def _skip_missed(self, edition: Edition, missed: list[tuple[int, str]], now: datetime) -> None:
        db = self.db
        # Under the edition's lease, so a `digest send` running meanwhile cannot race us.
        generation = leases.acquire_send_lock(db, edition.id, now)
        try:
            with transaction(db):
                for subscriber_id, why in missed:
                    store.mark_delivery(
                        db,
                        edition.id,
                        subscriber_id,
                        DeliveryStatus.SKIPPED,
                        now,
                        generation=generation,
                        reply=why,
                    )
        finally:
            leases.release_send_lock(db, edition.id, generation)
        log.warning(
            "%s %s: %d deliveries skipped, more than %g h past their send time",
            edition.frequency,
            edition.period,
            len(missed),
            self.settings.schedule.max_delay_hours,
        )
