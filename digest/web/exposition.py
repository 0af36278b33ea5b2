"""The Prometheus collector behind /metrics (digest.web.metrics), in a module of its own so
that prometheus-client is imported by the first scrape, not by every process that builds the
web app (docs/performance.md, Memory).

The collector asks the core for its figures on each scrape (digest.app.metrics says why they
come from the database)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from digest.app import App

# deliveries.status -> the message counters' "outcome" label
OUTCOMES = {"sent": "sent", "failed": "failed", "bounced": "failed", "deferred": "deferred"}


class DigestCollector(Collector):
    def __init__(self, app: App) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        m = self._app.metrics()
        messages = CounterMetricFamily(
            "digest_messages",
            "Messages by outcome, for the relay configured (deferred: out of attempts, kept "
            "for the next run; failed includes refused recipients).",
            labels=["relay", "outcome"],
        )
        totals = {"sent": 0, "failed": 0, "deferred": 0}
        for status, outcome in OUTCOMES.items():
            totals[outcome] += m.deliveries.get(status, 0)
        for outcome, value in totals.items():
            messages.add_metric([m.relay, outcome], value)
        yield messages
        deliveries = GaugeMetricFamily(
            "digest_deliveries", "Deliveries of every edition by status.", labels=["status"]
        )
        for status, value in m.deliveries.items():
            deliveries.add_metric([status], value)
        yield deliveries
        yield GaugeMetricFamily(
            "digest_queue_depth",
            "Deliveries still to send (pending or sending) in open editions.",
            value=m.queue_depth,
        )
        editions = GaugeMetricFamily("digest_editions", "Editions by status.", labels=["status"])
        for status, value in m.editions.items():
            editions.add_metric([status], value)
        yield editions
        duration = GaugeMetricFamily(
            "digest_edition_send_seconds",
            "From opening to completing the latest complete edition, by frequency.",
            labels=["frequency"],
        )
        for frequency, seconds in sorted(m.last_send_seconds.items()):
            duration.add_metric([frequency], seconds)
        yield duration
        events = CounterMetricFamily(
            "digest_reader_events",
            "Reader events: signup (a sign-up to confirm), subscribed (added as active), "
            "confirmed, unsubscribed, bounced, soft_bounce, complained.",
            labels=["event"],
        )
        for event, value in sorted(m.reader_events.items()):
            events.add_metric([event], value)
        yield events
        hooks = m.webhooks
        yield CounterMetricFamily(
            "digest_webhook_deliveries", "Webhook events delivered (2xx).", value=hooks.delivered
        )
        yield CounterMetricFamily(
            "digest_webhook_failures", "Webhook POSTs that failed.", value=hooks.failed_attempts
        )
        yield CounterMetricFamily(
            "digest_webhook_given_up", "Webhook events dropped after 24 h.", value=hooks.given_up
        )
        yield GaugeMetricFamily(
            "digest_webhook_outbox", "Webhook events waiting to be delivered.", value=hooks.waiting
        )
        runs = CounterMetricFamily(
            "digest_scheduler_job_runs", "Runs of `digest schedule run` jobs.", labels=["job"]
        )
        failures = CounterMetricFamily(
            "digest_scheduler_job_failures",
            "Job runs that failed and asked for a retry.",
            labels=["job"],
        )
        for job, count, failed in m.job_runs:
            runs.add_metric([job], count)
            failures.add_metric([job], failed)
        yield runs
        yield failures
        yield CounterMetricFamily(
            "digest_scheduler_missed_sends",
            "Editions skipped because their send was missed by more than max_delay_hours.",
            value=m.editions.get("skipped", 0),
        )


def exposition(app: App, accept: str) -> tuple[bytes, str]:
    """The figures in the text format version the scraper asks for (its Accept header), as
    prometheus-client decides; (body, content type)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DigestCollector(app))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
