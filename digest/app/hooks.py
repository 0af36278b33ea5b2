"""Use case: events from a provider's webhook (SES, Postmark, Mailgun, SendGrid), through the
same bounce policy as SMTP-time refusals and `digest bounces import` (digest/app/feedback.py).

The adapter (digest/web/hooks.py) checks the signature and parses the payload with
digest/bounces/hooks.py; this applies the events. Each event is recorded by the provider's
event id in the table `bounces import` uses for its fingerprints, in the same transaction as
its effect, so a provider delivering an event twice (they all retry) changes nothing the
second time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from digest.app.feedback import Feedback
from digest.bounces.hooks import UNSUBSCRIBE, HookEvent
from digest.models import BounceKind, BounceRecord, Subscriber, SubscriberStatus
from digest.store import bounces as store
from digest.store import subscribers as subscriber_store


@dataclass
class HookResult:
    applied: int = 0
    duplicates: int = 0
    unmatched: list[str] = field(default_factory=list)  # recipients that are not ours


class ProviderHooks(Feedback):
    def apply_hook_events(self, events: Iterable[HookEvent]) -> HookResult:
        """Apply verified webhook events: bounces and complaints by the bounce policy,
        unsubscribes at once. Idempotent by the provider's event id."""
        result = HookResult()
        for event in events:
            key = f"hook:{event.provider}:{event.event_id}"
            with self.store.transaction() as db:
                if store.is_processed(db, key):
                    result.duplicates += 1
                    continue
                matched = self._hook_match(event)
                if matched is None:
                    result.unmatched.append(event.recipient or "(no address)")
                    continue
                subscriber, edition_id = matched
                source = f"hook:{event.provider}"
                if event.kind == UNSUBSCRIBE:
                    if not subscriber.status.suppressed:
                        subscriber_store.set_status(
                            db, subscriber.id, SubscriberStatus.UNSUBSCRIBED, self.now(), source
                        )
                else:
                    record = BounceRecord(
                        subscriber_id=subscriber.id,
                        edition_id=edition_id,
                        kind=BounceKind(event.kind),
                        at=self.now(),
                        status_code=event.status,
                        diagnostic=event.diagnostic[:1000],
                        origin=source,
                        fingerprint=key,
                    )
                    self.apply_bounce(record, source)
                store.mark_processed(db, key, source, event.kind, self.now())
                result.applied += 1
        return result

    def _hook_match(self, event: HookEvent) -> tuple[Subscriber, int | None] | None:
        """By our Message-ID when the provider passes it on (and its reader is the event's
        recipient), else by the address; never guessed."""
        db = self.db
        delivery = store.find_delivery(db, event.message_ids) if event.message_ids else None
        if delivery is not None:
            owner = subscriber_store.get_subscriber(db, delivery[1])
            named = event.recipient
            if owner is not None and (not named or owner.email.lower() == named):
                return owner, delivery[0]
        if not event.recipient:
            return None
        by_address = subscriber_store.get_subscriber_by_email(db, event.recipient)
        return (by_address, None) if by_address is not None else None
