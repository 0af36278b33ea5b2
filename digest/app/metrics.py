"""What /metrics shows, computed from the database at scrape time.

Why from the database and not from counters in memory: the messages are sent by
`digest schedule run` or `digest send`, the sign-ups come through `digest serve`, and the
webhooks are posted by either; each is its own process, and any of them restarts. Counters
kept in one process would see a part and reset on restart. The rows are the record of what
happened, so counting them gives totals that only go up and agree across processes.

What keeps a scrape cheap on a large list: a complete edition's delivery counts never change
again (later bounces are rows of their own), so they are counted once per process and kept;
only open editions are counted each time (by the deliveries' primary key). Events are counted
incrementally by id. The webhook outbox and the job table are small.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from digest.app.base import AppBase
from digest.models import DeliveryStatus, EditionStatus
from digest.store import editions as edition_store
from digest.store import metrics as store

# The events /metrics counts (kind in the events table -> the metric's label).
READER_EVENTS = {
    "pending": "signup",
    "signup": "signup",
    "subscribed": "subscribed",
    "confirmed": "confirmed",
    "unsubscribed": "unsubscribed",
    "bounced": "bounced",
    "soft_bounce": "soft_bounce",
    "complained": "complained",
}


@dataclass(frozen=True)
class Metrics:
    relay: str  # host:port of the configured relay, the label of the message counts
    deliveries: dict[str, int]  # every edition's deliveries by status
    queue_depth: int  # deliveries still pending or sending in open editions
    editions: dict[str, int]  # by status (skipped: a send missed by more than max_delay)
    last_send_seconds: dict[str, float]  # frequency -> the latest complete edition's
    reader_events: dict[str, int]  # by READER_EVENTS label
    webhooks: store.WebhookCounts
    job_runs: tuple[tuple[str, int, int], ...]  # (job, runs, failures)


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    complete: dict[int, dict[str, int]] = field(default_factory=dict)
    events_after: int = 0
    events: dict[str, int] = field(default_factory=dict)


class Observed(AppBase):
    _metrics_cache: _Cache | None = None

    def metrics(self) -> Metrics:
        if self._metrics_cache is None:
            self._metrics_cache = _Cache()
        cache = self._metrics_cache
        db = self.db
        with cache.lock:
            deliveries = {str(s): 0 for s in DeliveryStatus}
            editions = {str(s): 0 for s in EditionStatus}
            last: dict[str, float] = {}
            queue = 0
            for e in store.editions(db):
                editions[e.status] = editions.get(e.status, 0) + 1
                counts = cache.complete.get(e.id)
                if counts is None:
                    counts = edition_store.delivery_counts(db, e.id)
                    if e.status == EditionStatus.SENT:
                        cache.complete[e.id] = counts
                if e.status == EditionStatus.SENDING:
                    queue += counts["pending"] + counts["sending"]
                for status in deliveries:
                    deliveries[status] += counts.get(status, 0)
                if e.status == EditionStatus.SENT and e.created_at and e.completed_at:
                    last[e.frequency] = (e.completed_at - e.created_at).total_seconds()
            top, new = store.event_counts(db, cache.events_after)
            cache.events_after = top
            for kind, count in new.items():
                label = READER_EVENTS.get(kind)
                if label is not None:
                    cache.events[label] = cache.events.get(label, 0) + count
            reader_events = {
                label: cache.events.get(label, 0) for label in set(READER_EVENTS.values())
            }
        smtp = self.settings.smtp.parsed
        return Metrics(
            relay=f"{smtp.host}:{smtp.port}",
            deliveries=deliveries,
            queue_depth=queue,
            editions=editions,
            last_send_seconds=last,
            reader_events=reader_events,
            webhooks=store.webhook_counts(db),
            job_runs=tuple(store.job_runs(db)),
        )

    def record_job_run(self, job: str, ok: bool) -> None:
        """One run of a scheduler job (called by `digest schedule run` after each)."""
        with self.store.transaction() as db:
            store.record_job_run(db, job, ok, self.now())
