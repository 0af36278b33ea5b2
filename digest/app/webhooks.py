"""Use cases for outgoing webhooks: add, list, remove, the delivery log, and the dispatcher
that posts the outbox.

The outbox is filled by database triggers (migration m007_api_webhooks) in the very
transaction that confirms, unsubscribes, bounces a reader or completes an edition, whichever
use case or process made the change; so a change is never without its event. The dispatcher
(`digest webhooks deliver`, a thread of `digest serve`) claims due rows for a while, posts
each, and records the outcome. A row stays until a 2xx answer; a process killed mid-POST
leaves its claim to expire and the row is posted again with the same delivery id
(at-least-once, deduplicated by the receiver). Failures are retried with exponential
back-off for 24 hours.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from digest.app.base import AppBase
from digest.deliver import webhook
from digest.errors import InputError, NotFoundError
from digest.models import WEBHOOK_EVENTS, Webhook, WebhookDelivery
from digest.store import webhooks as store

Poster = Callable[[str, bytes, dict[str, str]], webhook.PostResult]
GIVE_UP_AFTER = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
# Long enough for one batch of POSTs at the timeout each; after it, another dispatcher may
# take the row (this one was killed, or hangs).
CLAIM = timedelta(minutes=5)
BATCH = 20


@dataclass(frozen=True)
class NewWebhook:
    webhook: Webhook
    secret: str  # shown once


@dataclass(frozen=True)
class WebhookRun:
    delivered: int = 0
    retrying: int = 0
    given_up: int = 0

    def summary(self) -> str:
        return f"delivered {self.delivered}, retrying {self.retrying}, given up {self.given_up}"


def retry_delay(attempts: int) -> timedelta:
    """After the n-th failed attempt: 30 s, 1 min, 2 min, ... at most an hour."""
    return min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 20)), LONGEST_RETRY)


class Hooks(AppBase):
    def add_webhook(self, url: str, events: Sequence[str]) -> NewWebhook:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"webhook URL {url!r}: an http:// or https:// address is needed")
        chosen = tuple(dict.fromkeys(e.strip() for e in events if e.strip()))
        unknown = [e for e in chosen if e not in WEBHOOK_EVENTS]
        if not chosen or unknown:
            raise InputError(
                f"webhook events: {', '.join(unknown) or 'none given'} "
                f"(choose from {', '.join(WEBHOOK_EVENTS)})"
            )
        secret = secrets.token_urlsafe(32)
        with self.store.transaction() as db:
            webhook_id = store.add_webhook(db, url.strip(), chosen, secret, self.now())
        [found] = [w for w in store.list_webhooks(self.db) if w.id == webhook_id]
        return NewWebhook(found, secret)

    def list_webhooks(self) -> list[Webhook]:
        return store.list_webhooks(self.db)

    def remove_webhook(self, webhook_id: int) -> None:
        with self.store.transaction() as db:
            if not store.remove_webhook(db, webhook_id, self.now()):
                raise NotFoundError(f"no webhook {webhook_id} (see `digest webhooks list`)")

    def webhook_log(self, limit: int = 50) -> list[WebhookDelivery]:
        return store.delivery_log(self.db, limit)

    def deliver_webhooks(self, post: Poster = webhook.post) -> WebhookRun:
        """Post every event due now, a batch at a time, until none is due."""
        delivered = retrying = given_up = 0
        while True:
            now = self.now()
            with self.store.transaction() as db:
                batch = store.claim_due(db, now, now + CLAIM, BATCH)
            if not batch:
                return WebhookRun(delivered, retrying, given_up)
            for row in batch:
                outcome = self._post_one(row, post)
                delivered += outcome == "delivered"
                retrying += outcome == "retrying"
                given_up += outcome == "given up"

    def _post_one(self, row: WebhookDelivery, post: Poster) -> str:
        body = row.payload.encode("utf-8")
        stamp = int(self.now().timestamp())
        headers = webhook.signed_headers(row.secret, stamp, body, row.delivery_id, row.event)
        result = post(row.url, body, headers)
        now = self.now()
        attempts = row.attempts + 1
        next_attempt = None
        if not result.ok and now - row.created_at < GIVE_UP_AFTER:
            next_attempt = now + retry_delay(attempts)
        with self.store.transaction() as db:
            store.record_attempt(
                db,
                row.id,
                now=now,
                status=result.status,
                error=result.error,
                delivered=result.ok,
                next_attempt=next_attempt,
            )
        if result.ok:
            return "delivered"
        return "retrying" if next_attempt else "given up"
