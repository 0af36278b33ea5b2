"""The scheduler's handle on the application core: the jobs in :mod:`digest.schedule.daemon`
call ``send_due`` and ``refresh_feed``, which are use cases of :class:`digest.app.App`
(``digest.app.scheduled``). A Runner only adds the stop event the daemon shares."""

from __future__ import annotations

import logging
import threading

from digest.app import App, SendRun, TransportFactory, WebhookRun
from digest.bounces import ImportReport
from digest.clock import Clock, system_clock
from digest.config import FeedSettings, Settings
from digest.models import UpsertCounts

__all__ = ["Runner", "SendRun", "WebhookRun"]


class Runner:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        stop: threading.Event | None = None,
        transport_factory: TransportFactory | None = None,
    ) -> None:
        self.settings = settings
        self.app = App.open(settings, clock=clock, transports=transport_factory)
        self.stop = stop or threading.Event()

    def send_due(self, frequency: str) -> SendRun:
        """Send whatever of ``frequency`` is due now; record what was missed."""
        try:
            return self.app.send_due(frequency, stop=self.stop)
        finally:
            self.app.close()  # this job thread's connection

    def desk_due(self, frequency: str) -> SendRun:
        """Prepare a draft for review, send a held edition once approved (approval on)."""
        try:
            return self.app.desk_due(frequency, stop=self.stop)
        finally:
            self.app.close()

    def fetch_bounces(self) -> ImportReport:
        """Read the bounce mailbox ([bounces] imap_url) and apply what it holds."""
        try:
            return self.app.fetch_bounces()
        finally:
            self.app.close()

    def refresh_feed(self, feed: FeedSettings) -> UpsertCounts:
        try:
            return self.app.refresh_feed(feed)
        finally:
            self.app.close()

    def deliver_webhooks(self) -> WebhookRun:
        try:
            return self.app.deliver_webhooks()
        finally:
            self.app.close()

    def record_job_run(
        self, job: str, result: SendRun | UpsertCounts | WebhookRun | ImportReport | None
    ) -> None:
        """After each job (run_daemon's on_job_done): counted in the database for /metrics.
        A send that asked for a retry, or a job that did nothing, counts as a failure."""
        failed = result is None or (isinstance(result, SendRun) and result.retry)
        try:
            self.app.record_job_run(job, ok=not failed)
        except Exception:  # a metric must never stop the scheduler
            logging.getLogger("digest.schedule").exception("job %s: not counted", job)
        finally:
            self.app.close()

    def refresh_feeds(self) -> int:
        try:
            return self.app.refresh_feeds(stop=self.stop)
        finally:
            self.app.close()
