"""The send loop: one edition, every recipient exactly once, resumable after any stop.

Per recipient the work is: take the pre-rendered variant, personalise it, send it, record it.
Selection (curate) and rendering (render) happen once per group of alike recipients.

Threads: the calling thread reads recipients and personalises; ``concurrency`` sender threads
each hold one SMTP connection and one database connection (the Store gives each thread its
own), and commit each delivery the moment the relay answers. A row is marked 'sending' just
before its transaction starts, so after a kill the rows still 'sending' are exactly the
messages that were in flight.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator

from digest.app.feedback import Feedback
from digest.curate import Curator
from digest.deliver.compose import Job, Variants, personalised
from digest.deliver.rate import RateLimiter
from digest.deliver.report import ProgressCallback, SendReport, finish_report
from digest.deliver.smtp import SendResult, Transport
from digest.errors import DeliveryError, DigestError
from digest.mime import sending_domain
from digest.models import DeliveryStatus, Edition, EditionStatus, RecipientRow, ResultKind
from digest.store import bounces as bounce_store
from digest.store import editions as store
from digest.store import leases

HEARTBEAT_SECONDS = 10.0


class EditionRun:
    """One run of the send loop over one edition. Build it, call :meth:`run` once."""

    def __init__(
        self,
        app: Feedback,
        edition: Edition,
        curator: Curator,
        *,
        stop: threading.Event,
        progress: ProgressCallback | None = None,
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
        self.max_attempts = sending.max_attempts
        self.max_consecutive = sending.max_consecutive_failures
        self.renderer = app.new_renderer()
        self.limiter = RateLimiter(sending.rate, sending.hourly_limit)
        self.report = SendReport(
            frequency=edition.frequency,
            period=edition.period,
            edition_id=edition.id,
            status="complete",
        )
        self.jobs: queue.Queue[Job | None] = queue.Queue(maxsize=sending.concurrency)
        self.lock = threading.Lock()
        # Our threads take turns to write. SQLite would serialise them anyway, but a writer
        # that finds the file locked sleeps in SQLite's busy handler (a millisecond or more);
        # waiting on this lock wakes it the moment the other commit is done.
        self.writing = threading.Lock()
        self.consecutive_failures = 0
        self.stop_reason = ""
        self.done = 0
        # Marked 'sending' but not yet taken up by a sender: put back to 'pending' if the
        # send stops before they are, so only messages that may have reached the relay stay
        # 'sending'.
        self.handed: set[int] = set()
        self._last_beat = time.monotonic()

    def run(self) -> SendReport:
        started = time.monotonic()
        app, edition = self.app, self.edition
        leases.acquire_send_lock(app.db, edition.id, app.now())
        try:
            self._run()
        finally:
            leases.release_send_lock(app.db, edition.id)
        finish_report(self.report, self.renderer.compile_count, started)
        return self.report

    def halt(self, reason: str) -> None:
        with self.lock:
            if not self.stop_reason:
                self.stop_reason = reason
        self.stop.set()

    # -- the reading thread ------------------------------------------------------------------

    def _run(self) -> None:
        app, edition = self.app, self.edition
        total, in_flight = store.count_open(app.db, edition.id)
        self.report.resumed_in_flight = in_flight
        threads = [
            threading.Thread(
                target=self._sender,
                args=(app.transports(),),
                name=f"digest-sender-{i}",
                daemon=True,
            )
            for i in range(app.settings.sending.concurrency)
        ]
        for thread in threads:
            thread.start()
        try:
            for batch in _batched(self._messages(), app.settings.sending.concurrency):
                self._hand_over(batch, threads)
                if self.stop.is_set():
                    break
                self._beat()
                if self.progress is not None:
                    self.progress(self.done + self.report.skipped, total)
        except KeyboardInterrupt:
            self.halt("interrupted")
        except DigestError as e:
            self.halt(str(e))
            raise
        finally:
            self._drain(threads)
            if self.handed:
                store.reset_to_pending(app.db, edition.id, sorted(self.handed), app.now())
        if self.progress is not None:
            self.progress(self.done + self.report.skipped, total)
        self._finish()

    def _messages(self) -> Iterator[Job]:
        app, edition = self.app, self.edition
        rows = store.iter_open_deliveries(app.db, edition.id, batch=app.settings.sending.page_size)
        if self.due is not None:
            due = self.due
            rows = (row for row in rows if due(row))
        return personalised(
            rows,
            self.curator,
            Variants(self.renderer, self.report),
            self.report,
            app.clock,
            sending_domain(app.settings),
            self._skip,
        )

    def _skip(self, row: RecipientRow, why: str) -> None:
        with self.writing:
            store.mark_delivery(
                self.app.db,
                self.edition.id,
                row.subscriber_id,
                DeliveryStatus.SKIPPED,
                self.app.now(),
                reply=why,
            )

    def _hand_over(self, batch: list[Job], threads: list[threading.Thread]) -> None:
        """One commit marks the batch as handed over; each outcome is committed alone."""
        app = self.app
        with self.writing:
            store.mark_sending(
                app.db,
                self.edition.id,
                [(job.row.subscriber_id, job.message.message_id) for job in batch],
                app.now(),
            )
        with self.lock:
            self.handed.update(job.row.subscriber_id for job in batch)
        for job in batch:
            while not self.stop.is_set():
                try:
                    self.jobs.put(job, timeout=1.0)
                    break
                except queue.Full:
                    pass
                self._beat()
                if not any(t.is_alive() for t in threads):
                    self.halt("every sender thread stopped")

    def _beat(self) -> None:
        """Keep the edition's lease fresh, so no one takes it over while we are alive."""
        if time.monotonic() - self._last_beat > HEARTBEAT_SECONDS:
            with self.writing:
                leases.heartbeat_send_lock(self.app.db, self.edition.id, self.app.now())
            self._last_beat = time.monotonic()

    def _drain(self, threads: list[threading.Thread]) -> None:
        """Tell every sender to finish its message in flight and stop."""
        for _ in threads:
            while True:
                try:
                    self.jobs.put(None, timeout=0.5)
                    break
                except queue.Full:
                    # Stopping: throw away queued work (still 'pending' in the database).
                    with contextlib.suppress(queue.Empty):
                        self.jobs.get_nowait()
        for thread in threads:
            thread.join()

    def _finish(self) -> None:
        app, edition, report = self.app, self.edition, self.report
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
        store.mark_edition(app.db, edition.id, EditionStatus.COMPLETE, app.now())

    # -- the sender threads ------------------------------------------------------------------

    def _sender(self, transport: Transport) -> None:
        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    return
                if self.stop.is_set():
                    continue  # left 'pending' in the database: the next send picks it up
                with self.lock:
                    self.handed.discard(job.row.subscriber_id)
                outcome = self._attempt(transport, job)
                if outcome is not None:
                    self._record(job, *outcome)
        finally:
            transport.close()
            self.app.store.close()  # this thread's database connection

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
                with self.writing:
                    store.mark_delivery(
                        self.app.db,
                        self.edition.id,
                        job.row.subscriber_id,
                        DeliveryStatus.PENDING,
                        self.app.now(),
                    )
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
        """Commit what the relay said about one delivery, at once. Final refusals go through
        the bounce policy in the same transaction (5.1.x suppresses the address now; other
        failures count as soft; 5.7.x is the sender's problem, never held against the
        reader)."""
        app, sid = self.app, job.row.subscriber_id
        reply = f"{result.code} {result.reply}".strip()
        status = _final_status(result, attempts, self.max_attempts)
        with self.writing:
            if status == DeliveryStatus.SENT:
                store.mark_delivery(
                    app.db,
                    self.edition.id,
                    sid,
                    status,
                    app.now(),
                    reply=reply,
                    article_ids=job.article_ids,
                    attempts=attempts,
                )
            elif status == DeliveryStatus.PENDING:
                # Interrupted by a stop between attempts: a later `digest send` retries it.
                store.mark_delivery(
                    app.db, self.edition.id, sid, status, app.now(), reply=reply, attempts=attempts
                )
            else:
                with app.store.transaction() as db:
                    store.mark_delivery(
                        db, self.edition.id, sid, status, app.now(), reply=reply, attempts=attempts
                    )
                    app.record_smtp_failure(sid, self.edition.id, result.code, result.reply)
        self._count(status, reply)

    def _count(self, status: DeliveryStatus, reply: str) -> None:
        with self.lock:
            self.done += 1
            if status == DeliveryStatus.SENT:
                self.report.sent += 1
                self.consecutive_failures = 0
                return
            if status == DeliveryStatus.PENDING:
                return  # interrupted by a stop, not a failure
            if status == DeliveryStatus.BOUNCED:
                self.report.bounced += 1
            elif status == DeliveryStatus.FAILED:
                self.report.failed += 1
            else:
                self.report.deferred += 1
            self.consecutive_failures += 1
            failures = self.consecutive_failures
        if failures >= self.max_consecutive:
            self.halt(
                f"the relay refused {failures} messages in a row (last: {reply}); "
                "check the relay, then run `digest send` again to resume"
            )


def _final_status(result: SendResult, attempts: int, max_attempts: int) -> DeliveryStatus:
    if result.kind == ResultKind.SENT:
        return DeliveryStatus.SENT
    if result.kind == ResultKind.BOUNCE:
        return DeliveryStatus.BOUNCED
    if result.kind == ResultKind.PERMANENT:
        return DeliveryStatus.FAILED
    return DeliveryStatus.DEFERRED if attempts >= max_attempts else DeliveryStatus.PENDING


def _batched(items: Iterator[Job], size: int) -> Iterator[list[Job]]:
    batch: list[Job] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
