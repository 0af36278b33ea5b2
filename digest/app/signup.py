"""Use cases behind the readers' pages: sign up, confirm, change preferences, unsubscribe,
and the mail they send. Values in, an outcome out, one transaction each.

Consent is bound to the request. Every web sign-up stores one row in ``signup_requests``
with exactly the choices that were submitted (categories, frequency, name) and a random
nonce; the confirm link names that row (id and nonce, signed, 7 days). Confirming applies
exactly those choices, once. A newer request for the same address supersedes the older
ones, so a link only ever activates what was asked for in the request it was mailed for,
and a stranger's later sign-up can neither be activated by the reader's old link nor
change what it activates.

Sign-up rules (the answer page is the same in every case, so it reveals nothing):

- new address: a pending subscriber (source 'web') and a confirmation email;
- pending or unsubscribed: the subscriber row is left alone; the new request (and its
  confirmation email) supersedes any earlier link. Unsubscribed readers stay unsubscribed,
  so nothing but the confirmation is mailed, until they confirm;
- active: nothing changes (a stranger must not be able to change someone's categories by
  typing their address) and they get an email with their preferences link instead;
- bounced, complained, forgotten (``SubscriberStatus.operator_only``): nothing is sent;
  only the operator may bring these back.

Every case runs the same statements (insert-if-new, read, one event, one request) and
queues one mail job (which does nothing for the last case), so the time an answer takes
does not say whether the address is known.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import sqlite_utils

from digest.app.base import AppBase
from digest.deliver.smtp import SendResult
from digest.models import Frequency, OutgoingMessage, Recipient, Subscriber, SubscriberStatus
from digest.store import consent as consent_store
from digest.store import subscribers as store
from digest.store import web as web_store
from digest.tokens import ConfirmClaim
from digest.validate import checked, envelope_address, validate_delivery_day

SOURCE = "web"
# Event recorded when an existing subscriber asks again on the web.
SIGNUP_EVENT = "signup"
IP_WINDOW = timedelta(hours=1)
ADDRESS_WINDOW = timedelta(days=1)

Refusal = Literal["ip", "address"]
ConfirmOutcome = Literal["confirmed", "already", "invalid", "superseded"]
MailKind = Literal["confirm", "welcome_back", "none"]


@dataclass(frozen=True)
class Choices:
    """A reader's clean choices from a valid form."""

    name: str
    category_ids: tuple[int, ...]
    category_names: tuple[str, ...]
    frequency: Frequency
    timezone: str | None = None  # an IANA name, checked; None: keep (or the default)
    language: str | None = None  # None: the form has no language field; "" the site's
    delivery_day: str | None = None  # mon..sun, "" the site's day; None: no such field


@dataclass(frozen=True)
class MailJob:
    """A message the pages have to send: a confirmation for one sign-up request, the
    preferences link for a reader who is already subscribed, or nothing (``none``: queued
    all the same, so every sign-up takes the same steps)."""

    kind: MailKind
    subscriber_id: int
    email: str
    categories: tuple[str, ...]
    request_id: int = 0
    nonce: str = ""


class Signup(AppBase):
    def sign_up(self, email: str, choices: Choices, detail: str = "") -> MailJob:
        """Record a web sign-up request for the normalised ``email``; the mail to send."""
        _checked_day(choices)
        now = self.now()
        nonce = secrets.token_urlsafe(16)
        with self.store.transaction() as db:
            subscriber, created = store.add_if_new(
                db,
                store.NewSubscriber(
                    email=email,
                    status=SubscriberStatus.PENDING,
                    frequency=choices.frequency,
                    source=SOURCE,
                ),
                now,
            )
            status = subscriber.status
            kind: MailKind
            if created or status in (SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED):
                kind, outcome = "confirm", "confirm"
            elif status == SubscriberStatus.ACTIVE:
                kind, outcome = "welcome_back", "welcome_back"
            else:
                kind, outcome = "none", "refused"
            store.record_event(
                db, subscriber.id, "pending" if created else SIGNUP_EVENT, now, SOURCE, detail
            )
            # Only a request that can be confirmed keeps what was typed: for an active or
            # suppressed reader it is a record that someone asked, nothing more.
            keep = kind == "confirm"
            request_id = consent_store.add_request(
                db,
                subscriber_id=subscriber.id,
                nonce=nonce,
                name=choices.name if keep else "",
                frequency=choices.frequency,
                category_ids=choices.category_ids if keep else (),
                outcome=outcome,
                now=now,
                timezone=choices.timezone if keep else None,
                delivery_day=choices.delivery_day if keep else None,
            )
        categories = choices.category_names if kind == "confirm" else subscriber.categories
        return MailJob(kind, subscriber.id, email, categories, request_id, nonce)

    def resend_confirmation(self, email: str) -> MailJob | None:
        """For "send me a new confirmation link": pending readers get a new link (a new
        request with the choices of their latest one, which it supersedes), active readers
        their preferences link, everyone else nothing (an unsubscribed reader signs up
        again)."""
        now = self.now()
        with self.store.transaction() as db:
            existing = store.get_subscriber_by_email(db, email)
            if existing is None or existing.status not in (
                SubscriberStatus.PENDING,
                SubscriberStatus.ACTIVE,
            ):
                return None
            if existing.status == SubscriberStatus.ACTIVE:
                return MailJob("welcome_back", existing.id, existing.email, existing.categories)
            store.record_event(db, existing.id, SIGNUP_EVENT, now, SOURCE, "resend")
            latest_id = consent_store.latest_request_id(db, existing.id)
            latest = consent_store.get_request(db, latest_id) if latest_id else None
            timezone = day = None
            if latest is not None:
                name, frequency, category_ids = latest.name, latest.frequency, latest.category_ids
                timezone, day = latest.timezone, latest.delivery_day
            else:  # pending without a web request (a CSV import): what the operator set
                name, frequency = existing.name, existing.frequency
                category_ids = tuple(store.category_ids_for(db, existing.id))
            nonce = secrets.token_urlsafe(16)
            request_id = consent_store.add_request(
                db,
                subscriber_id=existing.id,
                nonce=nonce,
                name=name,
                frequency=frequency,
                category_ids=category_ids,
                outcome="confirm",
                now=now,
                timezone=timezone,
                delivery_day=day,
            )
            names = consent_store.category_names(db, category_ids)
        return MailJob("confirm", existing.id, existing.email, names, request_id, nonce)

    def _check_claim(
        self, db: sqlite_utils.Database, claim: ConfirmClaim
    ) -> tuple[ConfirmOutcome, consent_store.SignupRequest | None]:
        request = consent_store.get_request(db, claim.request_id)
        if request is None or not claim.nonce_matches(request.nonce):
            return "invalid", None
        subscriber = store.get_subscriber(db, request.subscriber_id)
        if subscriber is None or not subscriber.email or not claim.matches(subscriber.email):
            return "invalid", None
        if subscriber.status.operator_only or request.outcome != "confirm":
            return "invalid", None
        if subscriber.status == SubscriberStatus.ACTIVE:
            return "already", None
        # A newer request was made (by the reader or by anyone typing their address), or
        # this one was used already and they have unsubscribed since: this link is not
        # consent to what is asked for now.
        if not request.latest or request.confirmed_at is not None:
            return "superseded", None
        return "confirmed", request

    def claimed_reader(self, claim: ConfirmClaim) -> int | None:
        """The subscriber id of the request a genuine claim names (for the welcome mail
        after a confirmation), else None."""
        request = consent_store.get_request(self.db, claim.request_id)
        if request is None or not claim.nonce_matches(request.nonce):
            return None
        return request.subscriber_id

    def confirmable(self, claim: ConfirmClaim) -> ConfirmOutcome:
        """What confirming would do, without doing it (for the page with the button)."""
        return self._check_claim(self.db, claim)[0]

    def confirm(self, claim: ConfirmClaim, ip: str) -> ConfirmOutcome:
        """Apply the request the claim names, exactly as it was asked for, and activate the
        subscriber; idempotent. Records the consent: the event (time, source, IP) and
        subscribers.consent_ip."""
        now = self.now()
        with self.store.transaction() as db:
            outcome, request = self._check_claim(db, claim)
            if request is None:
                return outcome
            subscriber_id = request.subscriber_id
            store.update_subscriber(
                db,
                subscriber_id,
                name=request.name,
                frequency=request.frequency,
                timezone=request.timezone,
                delivery_day=request.delivery_day,
            )
            store.set_categories(
                db, subscriber_id, consent_store.existing_category_ids(db, request.category_ids)
            )
            store.set_status(
                db,
                subscriber_id,
                SubscriberStatus.ACTIVE,
                now,
                SOURCE,
                f"ip {ip}",
                kind="confirmed",
            )
            web_store.set_consent_ip(db, subscriber_id, ip)
            consent_store.mark_confirmed(db, request.id, now)
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
            day = _checked_day(choices)
            day = subscriber.delivery_day if day is None else day
            changed = (
                subscriber.name != choices.name
                or subscriber.frequency != choices.frequency
                or subscriber.language != language
                or subscriber.delivery_day != day
                or tuple(store.category_ids_for(db, subscriber_id)) != choices.category_ids
            )
            if changed:
                store.update_subscriber(
                    db,
                    subscriber_id,
                    name=choices.name,
                    frequency=choices.frequency,
                    language=language,
                    delivery_day=day,
                )
                store.set_categories(db, subscriber_id, choices.category_ids)
                store.record_event(db, subscriber_id, "updated", self.now(), SOURCE, "preferences")
            return changed

    def unsubscribe_reader(
        self, subscriber_id: int, source: str, *, edition_id: int | None = None
    ) -> None:
        """Unsubscribe at once (a link, one-click). Repeating it, or unsubscribing an address
        that bounced or was forgotten, changes nothing: those statuses say more.
        ``edition_id``: the edition whose link was used, counted against it
        (docs/reports.md)."""
        with self.store.transaction() as db:
            subscriber = store.get_subscriber(db, subscriber_id)
            if subscriber is None or subscriber.status.suppressed:
                return
            store.set_status(
                db,
                subscriber_id,
                SubscriberStatus.UNSUBSCRIBED,
                self.now(),
                source,
                edition_id=edition_id,
            )

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

    def render_system_mail(self, job: MailJob) -> OutgoingMessage | None:
        """The confirmation or "already subscribed" message for ``job`` (None for none)."""
        address, smtputf8 = envelope_address(job.email)
        recipient = Recipient(job.subscriber_id, address, smtputf8=smtputf8)
        if job.kind == "confirm":
            return self.renderer.render_confirm(
                recipient,
                request_id=job.request_id,
                nonce=job.nonce,
                categories=job.categories,
                message_id=self.message_id(),
                date=self.now(),
            )
        if job.kind == "welcome_back":
            return self.renderer.render_welcome_back(
                recipient,
                categories=job.categories,
                message_id=self.message_id(),
                date=self.now(),
            )
        return None

    def send_system_mail(self, job: MailJob) -> SendResult | None:
        """Render and send ``job`` over a connection of its own (None: nothing to send)."""
        message = self.render_system_mail(job)
        if message is None:
            return None
        transport = self.transports()
        try:
            return transport.send(message)
        finally:
            transport.close()


def keyed_hash(secret: str, purpose: str, value: str) -> str:
    """An HMAC of ``value`` for storage where the value itself must not be kept."""
    key = hashlib.sha256(f"digest.web.{purpose}:{secret}".encode()).digest()
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _checked_day(choices: Choices) -> str | None:
    if choices.delivery_day is None:
        return None
    return checked("delivery_day", validate_delivery_day, choices.delivery_day)
