"""Sending the sign-up emails from a background thread.

The request only decides *whether* to send; rendering and the SMTP conversation happen on a
worker thread after the answer page has gone out. Two reasons: a slow or unreachable relay
never holds up a page, and the time an answer takes does not depend on whether the address
was new, active or suppressed (which would let a stranger enumerate addresses by timing).
A failed send is logged; the reader can ask again from the page.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from digest.app import App, MailJob

log = logging.getLogger("digest.web")


class Mailer:
    def __init__(self, core: App) -> None:
        self._core = core
        # One worker: sign-ups are rare, and the Renderer is then never used concurrently.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-mail")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def submit(self, job: MailJob) -> None:
        future = self._executor.submit(self._send, job)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def submit_welcome(self, subscriber_id: int) -> None:
        """The welcome email ([web] welcome) for a reader who has just confirmed."""
        future = self._executor.submit(self._welcome, subscriber_id)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _welcome(self, subscriber_id: int) -> None:
        try:
            result = self._core.send_welcome(subscriber_id)
        except Exception:
            log.exception("welcome email for subscriber %d failed", subscriber_id)
            return
        finally:
            self._core.close()
        if result is not None and result.kind != "sent":
            log.warning(
                "welcome email for subscriber %d not accepted by the relay: %s %s",
                subscriber_id,
                result.code,
                result.reply,
            )

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for the mail submitted so far (tests, and shutdown)."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _send(self, job: MailJob) -> None:
        try:
            result = self._core.send_system_mail(job)
        except Exception:
            # A worker thread has no one to raise to: log it with the subscriber id (never
            # the address) and carry on with the next message.
            log.exception("%s email for subscriber %d failed", job.kind, job.subscriber_id)
            return
        if result is not None and result.kind != "sent":
            log.warning(
                "%s email for subscriber %d not accepted by the relay: %s %s",
                job.kind,
                job.subscriber_id,
                result.code,
                result.reply,
            )
