"""The webhook dispatcher thread of `digest serve`: posts the outbox every few seconds.

It only calls the core's use case (:meth:`digest.app.App.deliver_webhooks`); any number of
processes may run one, since rows are claimed before they are posted."""

from __future__ import annotations

import logging
import threading

from digest.app import App

log = logging.getLogger("digest.webhooks")
POLL_SECONDS = 5.0


class Dispatcher:
    def __init__(self, core: App, *, interval: float = POLL_SECONDS) -> None:
        self._core = core
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="digest-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                run = self._core.deliver_webhooks()
                if run.delivered or run.retrying or run.given_up:
                    log.info("webhooks: %s", run.summary())
            except Exception:  # keep the thread alive: the outbox keeps every event
                log.exception("webhooks: delivery failed")
            finally:
                self._core.close()
            self._stop.wait(self._interval)
