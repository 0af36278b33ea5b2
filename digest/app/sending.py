"""The send loop: one edition, every recipient exactly once, resumable after any stop.

Per recipient the work is: take the pre-rendered variant, personalise it, send it, record it.
Selection (curate) and rendering (render) happen once per group of alike recipients.

Threads: the calling thread reads recipients and personalises; ``concurrency`` sender threads
each hold one SMTP connection and one database connection (the Store gives each thread its
own). A sender marks its delivery 'sending' just before the SMTP transaction and commits the
outcome the moment the relay answers, so after a kill the rows still 'sending' are exactly
the messages that may have reached the relay: at most one per sender. An acceptance and the
mark of the sender's next message, when it is already waiting, share one commit
(:meth:`EditionRun._sent_then_next`).

Never twice, never skipped, whatever happens:
- Fencing: the edition's lease carries a generation; every write is conditional on it
  (digest/store/leases.py). A process paused past its lease and taken over finds its next
  write refused, stops before sending more, and exits 75; the messages it had in flight are
  the only ones that can go twice, and they keep their Message-ID.
- One reader never stops the edition: an address no message can carry is recorded as
  failed with the reason (``undeliverable``) and the send goes on.
- A refusal of the sender (x.7.x, authentication, relaying denied) leaves the reader
  pending; failures in a row that end in the relay-refuses-everything stop leave them
  pending too, so the send after the fix delivers them. Only mailbox verdicts fail a reader.
- A database locked by another process pauses the senders, each holding its outcome until
  the write goes through, for up to ``database_wait_seconds``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TypeVar

from digest.app.feedback import Feedback
from digest.curate import Curator
from digest.deliver.compose import Composer, Job, Variants
from digest.deliver.pool import PoolTransports
from digest.deliver.rate import RateLimiter
from digest.deliver.report import SendReport, finish_report
from digest.deliver.signing import SigningStage
from digest.deliver.smtp import SendResult, Transport
from digest.errors import DeliveryError, DigestError, LeaseLostError, StoreError
from digest.mime import DeliveryMessageIds, DkimSigner, sending_domain
from digest.models import (
    BounceKind,
    BounceRecord,
    DeliveryStatus,
    Edition,
    EditionStatus,
    RecipientRow,
    ResultKind,
)
from digest.progress import NO_PROGRESS, Progress
from digest.store import bounces as bounce_store
from digest.store import editions as store
from digest.store import leases

log = logging.getLogger("digest.send")
HEARTBEAT_SECONDS = 10.0
T = TypeVar("T")


class EditionRun:
    """One run of the send loop over one edition. Build it, call :meth:`run` once."""

    def __init__(
        self,
        app: Feedback,
        edition: Edition,
        curator: Curator,
        *,
        stop: threading.Event,
        progress: Progress = NO_PROGRESS,
        due: Callable[[RecipientRow], bool] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry_delay: float = 2.0,
    ) -> None:
        self.app = app
        self.edition = edition
        self.curator = curator
        self.stop = stop
        self.progress = progress
        self.due = due
        self.sleep = sleep
        self.retry_delay = retry_delay
        sending = app.settings.sending
        self.concurrency = sending.concurrency
        self.max_attempts = sending.max_attempts
        self.max_consecutive = sending.max_consecutive_failures
        # DKIM, when configured, is added by a SigningStage after composing, with the
        # private-key work in a process of its own (digest/deliver/signing.py).
        self.renderer = app.new_renderer(signing=False)
        self.signer = DkimSigner.from_settings(app.settings)
        # The relay pool behind the transports, when they are the pool's: its notes (relays
        # taken out or stopped) go into the report, and each relay's share with two or more.
        transports = app.transports
        self.pool = transports.pool if isinstance(transports, PoolTransports) else None
        self._notes_before = len(self.pool.notes()) if self.pool is not None else 0
        self.limiter = RateLimiter(sending.rate, sending.hourly_limit)
        self.report = SendReport(
            frequency=edition.frequency,
            period=edition.period,
            edition_id=edition.id,
            status="complete",
        )
        if self.pool is not None and self.pool.size > 1:
            self.report.relays.update({r.name: 0 for r in self.pool.relays})
        self.jobs: queue.Queue[Job | None] = queue.Queue(maxsize=sending.concurrency)
        self.lock = threading.Lock()
        # Our threads take turns to write. SQLite would serialise them anyway, but a writer
        # that finds the file locked sleeps in SQLite's busy handler (a millisecond or more);
        # waiting on this lock wakes it the moment the other commit is done.
        self.writing = threading.Lock()
        self.generation = 0
        self.lost = False
        self.consecutive_failures = 0
        self.refused_everything = False
        # Permanent failures in the current run of failures: decided when the run ends. A
        # success makes them real failures; the relay-refuses-everything stop puts them back.
        self.provisional: list[tuple[Job, SendResult, int]] = []
        self.stop_reason = ""
        self.done = 0
        self._reported = 0  # done + skipped, as far as progress was told
        self._last_beat = time.monotonic()

    # -- the whole run -----------------------------------------------------------------------

    def run(self) -> SendReport:
        """Send what is open; LeaseLostError (exit 75) when another process took over."""
        started = time.monotonic()
        app, edition = self.app, self.edition
        stale = app.settings.sending.lease_seconds
        self.generation = leases.acquire_send_lock(
            app.db, edition.id, app.now(), stale_after=_seconds(stale)
        )
        try:
            self._run()
        finally:
            with contextlib.suppress(sqlite3.Error):
                leases.release_send_lock(app.db, edition.id, self.generation)
        finish_report(self.report, self.renderer.compile_count, started)
        if self.lost:
            raise leases.lease_lost(edition.id)
        return self.report

    def halt(self, reason: str) -> None:
        with self.lock:
            if not self.stop_reason:
                self.stop_reason = reason
        self.stop.set()

    def _lost(self, error: LeaseLostError) -> None:
        self.lost = True
        self.halt(error.message)

    def _run(self) -> None:
        app, edition = self.app, self.edition
        total, in_flight = store.count_open(app.db, edition.id)
        self.report.resumed_in_flight = in_flight
        self.progress.start(total, "Sending")
        threads = [
            threading.Thread(
                target=self._sender,
                args=(app.transports(),),
                name=f"digest-sender-{i}",
                daemon=True,
            )
            for i in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        try:
            for job in self._messages():
                if not self._hand_over(job, threads):
                    break
                self._advance()
        except KeyboardInterrupt:
            self.halt("interrupted")
        except LeaseLostError as e:
            self._lost(e)
        except DigestError as e:
            self.halt(str(e))
            raise
        finally:
            self._drain(threads)
        self._advance()
        self.progress.done()
        self._finish()

    def _advance(self) -> None:
        """Tell progress about the outcomes recorded since last time (sender threads count
        them; only this loop reports)."""
        finished = self.done + self.report.skipped
        if finished > self._reported:
            self.progress.advance(finished - self._reported)
            self._reported = finished

    def _messages(self) -> Iterator[Job]:
        app, edition = self.app, self.edition
        rows = store.iter_open_deliveries(app.db, edition.id, batch=app.settings.sending.page_size)
        if self.due is not None:
            due = self.due
            rows = (row for row in rows if due(row))
        compose = Composer(
            curator=self.curator,
            variants=Variants(self.renderer, self.report),
            report=self.report,
            clock=app.clock,
            message_id=DeliveryMessageIds(
                app.settings.secret_key,
                sending_domain(app.settings),
                edition.id,
                str(edition.created_at),
            ),
            on_skip=lambda row, why: self._close(row, DeliveryStatus.SKIPPED, why),
            on_undeliverable=lambda row, why: self._close(row, DeliveryStatus.FAILED, why),
        )
        if self.signer is not None:
            return SigningStage(self.signer)(compose(rows))
        return compose(rows)

    def _close(self, row: RecipientRow, status: DeliveryStatus, why: str) -> None:
        """A delivery decided without the relay: skipped, or undeliverable."""
        self._write(
            lambda: store.mark_delivery(
                self.app.db,
                self.edition.id,
                row.subscriber_id,
                status,
                self.app.now(),
                generation=self.generation,
                reply=why,
            )
        )

    def _hand_over(self, job: Job, threads: list[threading.Thread]) -> bool:
        """Queue one job for the senders; False when the run is stopping."""
        while not self.stop.is_set():
            try:
                self.jobs.put(job, timeout=1.0)
                self._beat()
                return True
            except queue.Full:
                pass
            self._beat()
            if not any(t.is_alive() for t in threads):
                self.halt("every sender thread stopped")
        return False

    def _beat(self) -> None:
        """Keep the edition's lease fresh, from the loop itself: a loop that is stuck or
        paused stops renewing, and may then be taken over."""
        if time.monotonic() - self._last_beat > HEARTBEAT_SECONDS:
            self._write(
                lambda: leases.heartbeat_send_lock(
                    self.app.db, self.edition.id, self.generation, self.app.now()
                )
            )
            self._last_beat = time.monotonic()

    def _drain(self, threads: list[threading.Thread]) -> None:
        """Tell every sender to stop after the queued work (all of it, unless stopping)."""
        for _ in threads:
            while True:
                try:
                    self.jobs.put(None, timeout=0.5)
                    break
                except queue.Full:
                    if self.stop.is_set():
                        # Stopping: throw queued work away (still 'pending' in the database).
                        with contextlib.suppress(queue.Empty):
                            self.jobs.get_nowait()
        for thread in threads:
            thread.join()

    def _finish(self) -> None:
        app, edition, report = self.app, self.edition, self.report
        if self.pool is not None:
            report.warnings += self.pool.notes()[self._notes_before :]
        if self.lost:
            report.status = "stopped"
            report.stop_reason = self.stop_reason
            return
        self._settle_provisional(fail=not self.refused_everything)
        policy = bounce_store.bounce_counts(app.db, edition.id)["policy"]
        if policy:
            report.warnings.append(
                f"{policy} message(s) refused for policy reasons (x.7.x): the sender's "
                "problem, not the readers'; check SPF, DKIM, DMARC and the relay's IP "
                "reputation"
            )
        if self.stop_reason or self.stop.is_set():
            report.status = "stopped"
            report.stop_reason = self.stop_reason or "stopped"
            return
        remaining, _ = store.count_open(app.db, edition.id)
        if remaining and self.due is not None:
            report.status = "waiting"
            report.stop_reason = f"{remaining} deliveries are not due yet"
            return
        if remaining:
            report.status = "incomplete"
            report.stop_reason = (
                f"{remaining} deliveries deferred after {self.max_attempts} attempts; "
                "run `digest send` again later to retry them"
            )
            return
        self._write(
            lambda: store.mark_edition(
                app.db, edition.id, EditionStatus.SENT, app.now(), generation=self.generation
            )
        )

    # -- the sender threads ------------------------------------------------------------------

    def _sender(self, transport: Transport) -> None:
        try:
            job: Job | None = self.jobs.get()
            marked = False  # whether ``job`` is already 'sending' (see _sent_then_next)
            while job is not None:
                try:
                    if marked and self.stop.is_set():
                        # Marked with the previous outcome, then the run stopped: not sent,
                        # so not in flight either (the next send picks it up).
                        self._set(job, DeliveryStatus.PENDING, "", job.row.attempts)
                    elif not self.stop.is_set():
                        job, marked = self._deliver(transport, job, marked)
                        continue
                except LeaseLostError as e:
                    self._lost(e)
                except DigestError as e:
                    self.halt(str(e))
                # Stopping: what is left stays 'pending' in the database.
                job, marked = self.jobs.get(), False
        finally:
            transport.close()
            self.app.store.close()  # this thread's database connection

    def _deliver(self, transport: Transport, job: Job, marked: bool) -> tuple[Job | None, bool]:
        """Send ``job`` and record the outcome; the sender's next job, and whether it is
        already marked 'sending'."""
        row = job.row
        if not marked and not self._write(
            lambda: store.mark_sending(
                self.app.db,
                self.edition.id,
                row.subscriber_id,
                job.message.message_id,
                self.app.now(),
                generation=self.generation,
            )
        ):
            return self.jobs.get(), False  # no longer open (decided elsewhere): not sent
        outcome = self._attempt(transport, job)
        if outcome is None:
            return self.jobs.get(), False
        result, attempts = outcome
        if result.kind == ResultKind.SENT and not self.stop.is_set():
            try:
                following = self.jobs.get_nowait()
            except queue.Empty:
                pass
            else:
                if following is None:  # the end: record alone, then stop
                    self._record(job, result, attempts)
                    return None, False
                return self._sent_then_next(job, result, attempts, following)
        self._record(job, result, attempts)
        return self.jobs.get(), False

    def _sent_then_next(
        self, job: Job, result: SendResult, attempts: int, following: Job
    ) -> tuple[Job | None, bool]:
        """Record ``job`` as sent and mark ``following`` 'sending' in one commit, one commit
        a message instead of two (docs/performance.md, SQLite). Safe against a kill at any
        point: before the commit, ``job`` is still 'sending' (the documented in-flight
        message) and ``following`` untouched; after it, ``following`` is 'sending' and not
        yet sent, as after its own mark. Only a job already waiting is taken: an outcome is
        never held back for a job that is not there yet."""

        def write() -> bool:
            with self.app.store.transaction() as db:
                store.mark_delivery(
                    db,
                    self.edition.id,
                    job.row.subscriber_id,
                    DeliveryStatus.SENT,
                    self.app.now(),
                    generation=self.generation,
                    reply=f"{result.code} {result.reply}".strip(),
                    article_ids=job.article_ids,
                    attempts=attempts,
                    relay=result.relay or None,
                )
                return store.mark_sending(
                    db,
                    self.edition.id,
                    following.row.subscriber_id,
                    following.message.message_id,
                    self.app.now(),
                    generation=self.generation,
                )

        marked = self._write(write)
        self._settle_provisional(fail=True)
        self._count_success(result.relay)
        if not marked:
            return self.jobs.get(), False  # no longer open: not sent
        return following, True

    def _attempt(self, transport: Transport, job: Job) -> tuple[SendResult, int] | None:
        """Send one message, retrying transient failures with backoff. None when the relay
        refused us as a whole (login refused on reconnect): the send stops."""
        attempts = job.row.attempts
        while True:
            self.limiter.acquire()
            attempts += 1
            try:
                result = transport.send(job.message)
            except DeliveryError as e:
                self._set(job, DeliveryStatus.PENDING, "", attempts - 1)
                self.halt(str(e))
                return None
            if (
                result.kind != ResultKind.TRANSIENT
                or attempts >= self.max_attempts
                or self.stop.is_set()
            ):
                return result, attempts
            with self.lock:
                self.report.retried += 1
            self.sleep(self.retry_delay * 2 ** (attempts - 1))

    def _record(self, job: Job, result: SendResult, attempts: int) -> None:
        """Commit what the relay said about one delivery, at once (docs/email.md rules
        22-23)."""
        reply = f"{result.code} {result.reply}".strip()
        kind = result.kind
        if kind == ResultKind.SENT:
            self._set(
                job,
                DeliveryStatus.SENT,
                reply,
                attempts,
                article_ids=job.article_ids,
                relay=result.relay,
            )
            self._settle_provisional(fail=True)
            self._count_success(result.relay)
        elif kind == ResultKind.UNDELIVERABLE:
            self._set(job, DeliveryStatus.FAILED, result.reply, attempts)
            with self.lock:
                self.report.undeliverable += 1
                self.done += 1
        elif kind == ResultKind.TRANSIENT and attempts < self.max_attempts:
            # Interrupted by a stop between attempts: a later `digest send` retries it.
            self._set(job, DeliveryStatus.PENDING, reply, attempts)
        elif kind == ResultKind.REFUSED:
            self._refused(job, result, attempts)
        elif kind == ResultKind.PERMANENT:
            with self.lock:
                self.provisional.append((job, result, attempts))
            self._count_failure(reply)
        else:  # a mailbox verdict (bounce), or temporary failures to the last attempt
            self._fail(job, result, attempts)
            self._count_failure(reply)

    def _refused(self, job: Job, result: SendResult, attempts: int) -> None:
        """The relay refuses us, not the reader: pending again, the refusal on record."""
        reply = f"{result.code} {result.reply}".strip()
        sid = job.row.subscriber_id
        record = BounceRecord(
            subscriber_id=sid,
            edition_id=self.edition.id,
            kind=BounceKind.POLICY,
            at=self.app.now(),
            status_code=result.enhanced,
            diagnostic=reply[:1000],
            origin="smtp",
        )

        def write() -> None:
            with self.app.store.transaction() as db:
                store.mark_delivery(
                    db,
                    self.edition.id,
                    sid,
                    DeliveryStatus.PENDING,
                    self.app.now(),
                    generation=self.generation,
                    reply=reply,
                    attempts=attempts,
                )
                self.app.apply_bounce(record, "smtp")

        self._write(write)
        self._count_failure(reply)

    def _fail(self, job: Job, result: SendResult, attempts: int) -> None:
        """A final failure: the delivery's status and the bounce policy, in one commit."""
        status = {
            ResultKind.BOUNCE: DeliveryStatus.BOUNCED,
            ResultKind.PERMANENT: DeliveryStatus.FAILED,
        }.get(result.kind, DeliveryStatus.DEFERRED)
        reply = f"{result.code} {result.reply}".strip()
        sid = job.row.subscriber_id

        def write() -> None:
            with self.app.store.transaction() as db:
                store.mark_delivery(
                    db,
                    self.edition.id,
                    sid,
                    status,
                    self.app.now(),
                    generation=self.generation,
                    reply=reply,
                    attempts=attempts,
                    relay=result.relay or None,
                )
                self.app.record_smtp_failure(sid, self.edition.id, result.code, result.reply)

        self._write(write)
        with self.lock:
            self.done += 1
            if status == DeliveryStatus.BOUNCED:
                self.report.bounced += 1
            elif status == DeliveryStatus.FAILED:
                self.report.failed += 1
            else:
                self.report.deferred += 1

    def _settle_provisional(self, *, fail: bool) -> None:
        """Decide the failures held back: real failures once a message got through (the
        relay works; these readers' messages were refused), pending again when the relay
        refused everything."""
        with self.lock:
            held, self.provisional = self.provisional, []
        for job, result, attempts in held:
            if fail:
                self._fail(job, result, attempts)
            else:
                reply = f"{result.code} {result.reply}".strip()
                self._set(job, DeliveryStatus.PENDING, reply, attempts)

    def _set(
        self,
        job: Job,
        status: DeliveryStatus,
        reply: str,
        attempts: int,
        *,
        article_ids: tuple[str, ...] | None = None,
        relay: str | None = None,
    ) -> None:
        self._write(
            lambda: store.mark_delivery(
                self.app.db,
                self.edition.id,
                job.row.subscriber_id,
                status,
                self.app.now(),
                generation=self.generation,
                reply=reply,
                article_ids=article_ids,
                attempts=attempts,
                relay=relay or None,
            )
        )

    def _count_success(self, relay: str) -> None:
        with self.lock:
            self.done += 1
            self.report.sent += 1
            self.consecutive_failures = 0
            if self.pool is not None and self.pool.size > 1:
                self.report.relays[relay] += 1

    def _count_failure(self, reply: str) -> None:
        with self.lock:
            self.consecutive_failures += 1
            failures = self.consecutive_failures
        if failures >= self.max_consecutive:
            self.refused_everything = True
            self.halt(
                f"the relay refused {failures} messages in a row (last: {reply}); "
                "check the relay, then run `digest send` again to resume (the readers "
                "it refused are still to be sent)"
            )

    # -- writes that wait out a locked database ----------------------------------------------

    def _write(self, write: Callable[[], T]) -> T:
        """Run one write (under the writing lock), retrying while another process holds the
        database, for up to ``database_wait_seconds``: the outcome is held meanwhile, never
        dropped, and a message the relay accepted is never put back for sending."""
        limit = self.app.settings.sending.database_wait_seconds
        waited, pause = 0.0, 0.5
        while True:
            try:
                with self.writing:
                    return write()
            except (sqlite3.OperationalError, StoreError) as e:
                # A transaction that cannot begin is reported as a StoreError (its cause
                # the sqlite3 error): waited out like a single statement that cannot write.
                cause = e.__cause__ if isinstance(e, StoreError) else e
                text = str(cause).lower()
                if not isinstance(cause, sqlite3.OperationalError) or (
                    "locked" not in text and "busy" not in text
                ):
                    raise
                if waited >= limit:
                    raise DigestError(
                        f"{self.app.store.path}: database locked by another process for "
                        f"over {limit:g} s; stopped (run `digest send` again to resume)"
                    ) from e
                if not waited:
                    log.warning(
                        "%s: database is locked by another process; the send waits (up to "
                        "%g s) and goes on when it is free",
                        self.app.store.path,
                        limit,
                    )
                self.sleep(pause)
                waited += pause + self.app.settings.db_busy_timeout
                pause = min(pause * 2, 10.0)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
