"""Use cases behind the readers' pages: sign up, confirm, change preferences, unsubscribe,
and the mail they send. Values in, an outcome out, one transaction each.

Sign-up rules (the answer page is the same in every case, so it reveals nothing):

- new address: a pending subscriber (source 'web') and a confirmation email;
- pending: their latest choices replace the earlier ones, and a new confirmation email;
- active: nothing changes (a stranger must not be able to change someone's categories by
  typing their address) and they get an email with their preferences link instead;
- unsubscribed: signing up again is new consent, so their choices are stored (they stay
  unsubscribed, so nothing is mailed to them but the confirmation) and the confirm link
  re-activates them;
- bounced, complained, forgotten (``SubscriberStatus.operator_only``): nothing is written
  and nothing is sent; only the operator may bring these back.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from digest.app.base import AppBase
from digest.deliver.smtp import SendResult
from digest.models import Frequency, OutgoingMessage, Recipient, Subscriber, SubscriberStatus
from digest.store import subscribers as store
from digest.store import web as web_store
from digest.tokens import ConfirmClaim

SOURCE = "web"
# Event recorded when an existing subscriber asks again on the web; a confirm link only
# re-activates an unsubscribed reader if one of these is newer than their unsubscribe.
SIGNUP_EVENT = "signup"
IP_WINDOW = timedelta(hours=1)
ADDRESS_WINDOW = timedelta(days=1)

Refusal = Literal["ip", "address"]
ConfirmOutcome = Literal["confirmed", "already", "invalid", "superseded"]


@dataclass(frozen=True)
class Choices:
    """A reader's clean choices from a valid form."""

    name: str
    category_ids: tuple[int, ...]
    category_names: tuple[str, ...]
    frequency: Frequency
    language: str | None = None  # None: the form has no language field; "" the site's


@dataclass(frozen=True)
class MailJob:
    """A message the pages have to send: a confirmation, or the preferences link for a
    reader who is already subscribed."""

    kind: Literal["confirm", "welcome_back"]
    subscriber_id: int
    email: str
    name: str
    categories: tuple[str, ...]


class Signup(AppBase):
    def sign_up(self, email: str, choices: Choices, detail: str = "") -> MailJob | None:
        """Record a web sign-up for the normalised ``email``; the mail to send, if any."""
        now = self.now()
        with self.store.transaction() as db:
            existing = store.get_subscriber_by_email(db, email)
            if existing is None:
                subscriber_id = store.insert_subscriber(
                    db,
                    store.NewSubscriber(
                        email=email,
                        name=choices.name,
                        status=SubscriberStatus.PENDING,
                        frequency=choices.frequency,
                        source=SOURCE,
                    ),
                    now,
                )
                store.set_categories(db, subscriber_id, choices.category_ids)
                return MailJob(
                    "confirm", subscriber_id, email, choices.name, choices.category_names
                )
            if existing.status == SubscriberStatus.ACTIVE:
                return MailJob(
                    "welcome_back", existing.id, existing.email, existing.name, existing.categories
                )
            if existing.status.operator_only:
                return None
            # pending or unsubscribed: the newest request is the one they will confirm.
            store.update_subscriber(db, existing.id, name=choices.name, frequency=choices.frequency)
            store.set_categories(db, existing.id, choices.category_ids)
            store.record_event(db, existing.id, SIGNUP_EVENT, now, SOURCE, detail)
            return MailJob(
                "confirm", existing.id, existing.email, choices.name, choices.category_names
            )

    def resend_confirmation(self, email: str) -> MailJob | None:
        """For "send me a new confirmation link": pending readers get one, active readers
        their preferences link, everyone else nothing (an unsubscribed reader signs up
        again)."""
        with self.store.transaction() as db:
            existing = store.get_subscriber_by_email(db, email)
            if existing is None or existing.status not in (
                SubscriberStatus.PENDING,
                SubscriberStatus.ACTIVE,
            ):
                return None
            if existing.status == SubscriberStatus.PENDING:
                store.record_event(db, existing.id, SIGNUP_EVENT, self.now(), SOURCE, "resend")
                kind: Literal["confirm", "welcome_back"] = "confirm"
            else:
                kind = "welcome_back"
            return MailJob(kind, existing.id, existing.email, existing.name, existing.categories)

    def confirmable(self, claim: ConfirmClaim) -> ConfirmOutcome:
        """What confirming would do, without doing it (for the page with the button)."""
        subscriber = store.get_subscriber(self.db, claim.subscriber_id)
        if subscriber is None or not subscriber.email or not claim.matches(subscriber.email):
            return "invalid"
        if subscriber.status == SubscriberStatus.ACTIVE:
            return "already"
        if subscriber.status.operator_only:
            return "invalid"
        if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
            asked = store.last_event_at(self.db, subscriber.id, SIGNUP_EVENT)
            left = subscriber.unsubscribed_at
            # A confirm link from before they unsubscribed is not consent to come back.
            if asked is None or (left is not None and asked < left):
                return "superseded"
        return "confirmed"

    def confirm(self, claim: ConfirmClaim, ip: str) -> ConfirmOutcome:
        """Activate the subscriber the claim names; idempotent. Records the consent: the
        event (time, source, IP) and subscribers.consent_ip."""
        with self.store.transaction() as db:
            outcome = self.confirmable(claim)
            if outcome != "confirmed":
                return outcome
            store.set_status(
                db,
                claim.subscriber_id,
                SubscriberStatus.ACTIVE,
                self.now(),
                SOURCE,
                f"ip {ip}",
                kind="confirmed",
            )
            web_store.set_consent_ip(db, claim.subscriber_id, ip)
        return "confirmed"

    def reader(self, subscriber_id: int) -> Subscriber | None:
        """The reader a link token names (None when there is no such reader any more)."""
        return store.get_subscriber(self.db, subscriber_id)

    def reader_category_ids(self, subscriber_id: int) -> list[int]:
        return store.category_ids_for(self.db, subscriber_id)

    def save_preferences(self, subscriber_id: int, choices: Choices) -> bool:
        """Store new choices for a pending or active reader; False when they can no longer
        change anything (suppressed) or nothing changed."""
        with self.store.transaction() as db:
            subscriber = store.get_subscriber(db, subscriber_id)
            if subscriber is None or subscriber.status.suppressed:
                return False
            language = subscriber.language if choices.language is None else choices.language
            changed = (
                subscriber.name != choices.name
                or subscriber.frequency != choices.frequency
                or subscriber.language != language
                or tuple(store.category_ids_for(db, subscriber_id)) != choices.category_ids
            )
            if changed:
                store.update_subscriber(
                    db,
                    subscriber_id,
                    name=choices.name,
                    frequency=choices.frequency,
                    language=language,
                )
                store.set_categories(db, subscriber_id, choices.category_ids)
                store.record_event(db, subscriber_id, "updated", self.now(), SOURCE, "preferences")
            return changed

    def unsubscribe_reader(self, subscriber_id: int, source: str) -> None:
        """Unsubscribe at once (a link, one-click). Repeating it, or unsubscribing an address
        that bounced or was forgotten, changes nothing: those statuses say more."""
        with self.store.transaction() as db:
            subscriber = store.get_subscriber(db, subscriber_id)
            if subscriber is None or subscriber.status.suppressed:
                return
            store.set_status(db, subscriber_id, SubscriberStatus.UNSUBSCRIBED, self.now(), source)

    def take_signup_slot(self, *, ip: str, address: str | None) -> Refusal | None:
        """Count one sign-up from ``ip`` for ``address`` against the [web] limits, kept in
        the database so they hold across threads, processes and restarts (sliding windows;
        buckets are keyed hashes, so no IP or address is stored). None: allowed. A refused
        IP is not counted again, so waiting out the window always works; an IP hit is
        counted even when the address is refused, so spraying one address costs the
        sender's own budget too."""
        web = self.settings.web
        now = self.now()
        ip_bucket = keyed_hash(self.settings.secret_key, "ip", ip)
        with self.store.transaction() as db:
            web_store.prune_hits(db, now - max(IP_WINDOW, ADDRESS_WINDOW))
            limit = web.signup_limit_per_ip_per_hour
            if limit > 0:
                if web_store.count_hits(db, ip_bucket, now - IP_WINDOW) >= limit:
                    return "ip"
                web_store.add_hit(db, ip_bucket, now)
            limit = web.signup_limit_per_address_per_day
            if address is not None and limit > 0:
                bucket = keyed_hash(self.settings.secret_key, "address", address.lower())
                if web_store.count_hits(db, bucket, now - ADDRESS_WINDOW) >= limit:
                    return "address"
                web_store.add_hit(db, bucket, now)
        return None

    def render_system_mail(self, job: MailJob) -> OutgoingMessage:
        """The confirmation or "already subscribed" message for ``job``."""
        recipient = Recipient(subscriber_id=job.subscriber_id, email=job.email, name=job.name)
        render = (
            self.renderer.render_confirm
            if job.kind == "confirm"
            else self.renderer.render_welcome_back
        )
        return render(
            recipient, categories=job.categories, message_id=self.message_id(), date=self.now()
        )

    def send_system_mail(self, job: MailJob) -> SendResult:
        """Render and send ``job`` over a connection of its own."""
        message = self.render_system_mail(job)
        transport = self.transports()
        try:
            return transport.send(message)
        finally:
            transport.close()


def keyed_hash(secret: str, purpose: str, value: str) -> str:
    """An HMAC of ``value`` for storage where the value itself must not be kept."""
    key = hashlib.sha256(f"digest.web.{purpose}:{secret}".encode()).digest()
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
