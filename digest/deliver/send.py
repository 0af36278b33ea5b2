"""The send loop: one edition, every recipient exactly once, resumable after any stop.

Per recipient the work is: take the pre-rendered variant, personalise it, send it, record it.
Selection (curate) and rendering (render) happen once per group of alike recipients.

Threads: the calling thread reads recipients and personalises; ``concurrency`` sender threads
each hold one SMTP connection and one database connection, and commit each delivery the
moment the relay answers. A row is marked 'sending' just before its transaction starts, so
after a kill the rows still 'sending' are exactly the messages that were in flight.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import sqlite_utils

from digest.bounces import record_smtp_failure
from digest.clock import Clock
from digest.config import Settings
from digest.curate import Curator, edition_window
from digest.deliver.compose import Job, Variants, dry_run, personalised, window_of
from digest.deliver.rate import RateLimiter
from digest.deliver.report import ProgressCallback, SendReport, already_done, finish_report
from digest.deliver.smtp import SendResult, Transport
from digest.errors import DeliveryError, DigestError
from digest.mime import make_message_id, sending_domain
from digest.models import DigestContent, Edition, OutgoingMessage, Recipient
from digest.render import Renderer
from digest.store import editions as store
from digest.store import open_db, transaction
from digest.store.bounces import bounce_counts
from digest.store.connection import db_path
from digest.store.editions import RecipientRow

HEARTBEAT_SECONDS = 10.0


class _SendState:
    """Shared between the reading thread and the sender threads."""

    def __init__(self, settings: Settings, stop: threading.Event) -> None:
        self.lock = threading.Lock()
        # Our threads take turns to write. SQLite would serialise them anyway, but a writer
        # that finds the file locked sleeps in SQLite's busy handler (a millisecond or more);
        # waiting on this lock wakes it the moment the other commit is done.
        self.writing = threading.Lock()
        self.stop = stop
        self.consecutive_failures = 0
        self.max_consecutive = settings.sending.max_consecutive_failures
        self.stop_reason = ""
        self.done = 0
        # Marked 'sending' but not yet taken up by a sender: put back to 'pending' if the
        # send stops before they are, so only messages that may have reached the relay
        # stay 'sending'.
        self.handed: set[int] = set()

    def halt(self, reason: str) -> None:
        with self.lock:
            if not self.stop_reason:
                self.stop_reason = reason
        self.stop.set()


def _sender(
    path: str,
    transport: Transport,
    jobs: queue.Queue[Job | None],
    state: _SendState,
    report: SendReport,
    settings: Settings,
    limiter: RateLimiter,
    clock: Clock,
    edition_id: int,
    sleep: Callable[[float], None],
    retry_delay: float,
) -> None:
    db = open_db(path)
    max_attempts = settings.sending.max_attempts
    try:
        while True:
            job = jobs.get()
            if job is None or state.stop.is_set():
                # Left 'pending' in the database: the next `digest send` picks it up.
                if job is None:
                    return
                continue
            row, message = job.row, job.message
            with state.lock:
                state.handed.discard(row.subscriber_id)
            attempts = row.attempts
            result: SendResult | None = None
            while True:
                limiter.acquire()
                attempts += 1
                try:
                    result = transport.send(message)
                except DeliveryError as e:
                    # Login refused on reconnect: the relay as a whole refuses us.
                    with state.writing:
                        store.mark_delivery(db, edition_id, row.subscriber_id, "pending", clock())
                    state.halt(str(e))
                    result = None
                    break
                if result.kind != "transient" or attempts >= max_attempts or state.stop.is_set():
                    break
                with state.lock:
                    report.retried += 1
                sleep(retry_delay * 2 ** (attempts - 1))
            if result is None:
                continue
            _record(db, settings, result, job, state, report, clock, edition_id, attempts)
    finally:
        transport.close()
        db.close()


def _record(
    db: sqlite_utils.Database,
    settings: Settings,
    result: SendResult,
    job: Job,
    state: _SendState,
    report: SendReport,
    clock: Clock,
    edition_id: int,
    attempts: int,
) -> None:
    """Commit what the relay said about one delivery, at once. Final refusals go through the
    bounce policy in the same transaction (5.1.x suppresses the address now; other failures
    count as soft; 5.7.x is the sender's problem and never held against the reader)."""
    now = clock()
    sid = job.row.subscriber_id
    reply = f"{result.code} {result.reply}".strip()
    max_attempts = settings.sending.max_attempts
    with state.writing:
        if result.kind == "sent":
            store.mark_delivery(
                db,
                edition_id,
                sid,
                "sent",
                now,
                reply=reply,
                article_ids=job.article_ids,
                attempts=attempts,
            )
        elif result.kind == "transient" and attempts < max_attempts:
            # Interrupted by a stop between attempts: a later `digest send` retries it.
            store.mark_delivery(db, edition_id, sid, "pending", now, reply=reply, attempts=attempts)
        else:
            status = {"bounce": "bounced", "permanent": "failed"}.get(result.kind, "deferred")
            with transaction(db):
                store.mark_delivery(
                    db, edition_id, sid, status, now, reply=reply, attempts=attempts
                )
                record_smtp_failure(db, sid, edition_id, result.code, result.reply, now, settings)
    with state.lock:
        state.done += 1
        if result.kind == "sent":
            report.sent += 1
            state.consecutive_failures = 0
            return
        if result.kind == "bounce":
            report.bounced += 1
        elif result.kind == "permanent":
            report.failed += 1
        elif attempts >= max_attempts:
            report.deferred += 1
        else:
            return  # interrupted by a stop, not a failure
        state.consecutive_failures += 1
        failures = state.consecutive_failures
    if failures >= state.max_consecutive:
        state.halt(
            f"the relay refused {failures} messages in a row (last: {reply}); "
            "check the relay, then run `digest send` again to resume"
        )


def send_edition(
    db: sqlite_utils.Database,
    settings: Settings,
    renderer: Renderer,
    *,
    frequency: str,
    as_of: datetime,
    clock: Clock,
    transport_factory: Callable[[], Transport],
    stop: threading.Event | None = None,
    progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
    retry_delay: float = 2.0,
    edition: Edition | None = None,
    due: Callable[[RecipientRow], bool] | None = None,
) -> SendReport:
    """Send (or resume) the edition of ``frequency`` for the period containing ``as_of``.

    ``due`` picks the recipients whose turn it is (local-time delivery); the others stay
    pending and the edition stays open for a later call."""
    started = time.monotonic()
    stop = stop or threading.Event()
    if edition is None:
        edition = open_edition(db, settings, frequency, as_of, clock())
    if edition.status != "open":
        return already_done(db, edition)
    store.acquire_send_lock(db, edition.id, clock())
    report = SendReport(
        frequency=edition.frequency, period=edition.period, edition_id=edition.id, status="complete"
    )
    try:
        _run(
            db,
            settings,
            renderer,
            edition,
            report,
            clock,
            transport_factory,
            stop,
            progress,
            sleep,
            retry_delay,
            due,
        )
    finally:
        store.release_send_lock(db, edition.id)
    finish_report(report, renderer.compile_count, started)
    return report


def open_edition(
    db: sqlite_utils.Database,
    settings: Settings,
    frequency: str,
    as_of: datetime,
    now: datetime,
    *,
    period: str | None = None,
) -> Edition:
    """The edition for the period containing ``as_of`` (or the named ``period``): found, or
    created with its recipients and the cutoff ``as_of``.

    The scheduler names the period itself with local-time delivery: the first readers are
    served while the site's timezone is still on the day before."""
    window = edition_window(settings, frequency, as_of)
    period = period or window.period
    edition = store.find_edition(db, frequency, period)
    if edition is not None:
        return edition
    try:
        return store.create_edition(
            db,
            frequency=frequency,
            period=period,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            now=now,
        )
    except sqlite3.IntegrityError:
        # Another process created it a moment ago; the send lock decides who sends.
        found = store.find_edition(db, frequency, period)
        if found is None:
            raise
        return found


def _run(
    db: sqlite_utils.Database,
    settings: Settings,
    renderer: Renderer,
    edition: Edition,
    report: SendReport,
    clock: Clock,
    transport_factory: Callable[[], Transport],
    stop: threading.Event,
    progress: ProgressCallback | None,
    sleep: Callable[[float], None],
    retry_delay: float,
    due: Callable[[RecipientRow], bool] | None,
) -> None:
    total, in_flight = store.count_open(db, edition.id)
    report.resumed_in_flight = in_flight
    state = _SendState(settings, stop)
    limiter = RateLimiter(settings.sending.rate, settings.sending.hourly_limit)
    concurrency = settings.sending.concurrency
    jobs: queue.Queue[Job | None] = queue.Queue(maxsize=concurrency)
    path = db_path(db)
    threads = [
        threading.Thread(
            target=_sender,
            args=(
                path,
                transport_factory(),
                jobs,
                state,
                report,
                settings,
                limiter,
                clock,
                edition.id,
                sleep,
                retry_delay,
            ),
            name=f"digest-sender-{i}",
            daemon=True,
        )
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()

    def skip(row: RecipientRow, why: str) -> None:
        with state.writing:
            store.mark_delivery(db, edition.id, row.subscriber_id, "skipped", clock(), reply=why)

    curator = Curator(db, settings, window_of(edition), edition_id=edition.id)
    variants = Variants(renderer, report)
    rows = store.iter_open_deliveries(db, edition.id, batch=settings.sending.page_size)
    if due is not None:
        rows = (row for row in rows if due(row))
    last_beat = time.monotonic()

    def beat() -> None:
        """Keep the edition's lease fresh, so no one takes it over while we are alive."""
        nonlocal last_beat
        if time.monotonic() - last_beat > HEARTBEAT_SECONDS:
            with state.writing:
                store.heartbeat_send_lock(db, edition.id, clock())
            last_beat = time.monotonic()

    try:
        messages = personalised(
            rows, curator, variants, report, clock, sending_domain(settings), skip
        )
        for batch in _batched(messages, concurrency):
            # One commit marks the batch as handed over; each outcome is committed alone.
            with state.writing:
                store.mark_sending(
                    db,
                    edition.id,
                    [(job.row.subscriber_id, job.message.message_id) for job in batch],
                    clock(),
                )
            with state.lock:
                state.handed.update(job.row.subscriber_id for job in batch)
            for job in batch:
                while not stop.is_set():
                    try:
                        jobs.put(job, timeout=1.0)
                        break
                    except queue.Full:
                        pass
                    beat()
                    if not any(t.is_alive() for t in threads):
                        state.halt("every sender thread stopped")
            if stop.is_set():
                break
            beat()
            if progress is not None:
                progress(state.done + report.skipped, total)
    except KeyboardInterrupt:
        state.halt("interrupted")
    except DigestError as e:
        state.halt(str(e))
        raise
    finally:
        _drain(jobs, threads)
        if state.handed:
            store.reset_to_pending(db, edition.id, sorted(state.handed), clock())
    if progress is not None:
        progress(state.done + report.skipped, total)
    policy = bounce_counts(db, edition.id)["policy"]
    if policy:
        report.warnings.append(
            f"{policy} message(s) refused for policy reasons (x.7.x): the sender's problem, "
            "not the readers'; check SPF, DKIM, DMARC and the relay's IP reputation"
        )
    if state.stop_reason or stop.is_set():
        report.status = "stopped"
        report.stop_reason = state.stop_reason or "stopped"
        return
    remaining, _ = store.count_open(db, edition.id)
    if remaining and due is not None:
        report.status = "waiting"
        report.stop_reason = f"{remaining} deliveries are not due yet"
        return
    if remaining:
        report.status = "incomplete"
        report.stop_reason = (
            f"{remaining} deliveries deferred after {settings.sending.max_attempts} attempts; "
            "run `digest send` again later to retry them"
        )
        return
    store.mark_edition(db, edition.id, "complete", clock())


def _batched(items: Iterator[Job], size: int) -> Iterator[list[Job]]:
    batch: list[Job] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _drain(jobs: queue.Queue[Job | None], threads: list[threading.Thread]) -> None:
    """Tell every sender to finish its message in flight and stop."""
    for _ in threads:
        while True:
            try:
                jobs.put(None, timeout=0.5)
                break
            except queue.Full:
                # Stopping: throw away queued work (still 'pending' in the database).
                with contextlib.suppress(queue.Empty):
                    jobs.get_nowait()
    for thread in threads:
        thread.join()


def send_test(
    db: sqlite_utils.Database,
    settings: Settings,
    renderer: Renderer,
    transport: Transport,
    *,
    to: str,
    content: DigestContent,
    clock: Clock,
) -> tuple[OutgoingMessage, SendResult]:
    """One real copy of a digest to an editor's address, "[TEST]" in the subject, recording
    nothing."""
    variant = renderer.render_variant(content, subject_prefix="[TEST] ")
    message = renderer.personalise(
        variant,
        Recipient(subscriber_id=0, email=to, name=""),
        message_id=make_message_id(sending_domain(settings)),
        date=clock(),
    )
    try:
        result = transport.send(message)
    finally:
        transport.close()
    return message, result


__all__ = [
    "ProgressCallback",
    "SendReport",
    "dry_run",
    "open_edition",
    "send_edition",
    "send_test",
]
