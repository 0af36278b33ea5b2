"""What the readers' pages do to the database: sign up, confirm, change preferences,
unsubscribe. No Flask here: values in, an outcome out, one transaction each. The views turn
outcomes into pages and hand mail to the Mailer.

Sign-up rules (the answer page is the same in every case, so it reveals nothing):

- new address: a pending subscriber (source 'web') and a confirmation email;
- pending: their latest choices replace the earlier ones, and a new confirmation email;
- active: nothing changes (a stranger must not be able to change someone's categories by
  typing their address) and they get an email with their preferences link instead;
- unsubscribed: signing up again is new consent, so their choices are stored (they stay
  unsubscribed, so nothing is mailed to them but the confirmation) and the confirm link
  re-activates them;
- bounced, complained, forgotten: nothing is written and nothing is sent. A bounced address
  cannot receive the email anyway, a complaint is the strongest "never again" there is, and
  a forgotten reader asked us to erase them: only the operator may bring these back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlite_utils

from digest.store import subscribers as store
from digest.store import transaction
from digest.store import web as web_store
from digest.tokens import ConfirmClaim
from digest.web.forms import Choices

SOURCE = "web"
# Event recorded when an existing subscriber asks again on the web; a confirm link only
# re-activates an unsubscribed reader if one of these is newer than their unsubscribe.
SIGNUP_EVENT = "signup"
NEVER_AGAIN = ("bounced", "complained", "forgotten")


@dataclass(frozen=True)
class MailJob:
    """A message the web has to send: a confirmation, or the preferences link for a reader
    who is already subscribed."""

    kind: Literal["confirm", "welcome_back"]
    subscriber_id: int
    email: str
    name: str
    categories: tuple[str, ...]


def sign_up(
    db: sqlite_utils.Database, email: str, choices: Choices, now: datetime, detail: str = ""
) -> MailJob | None:
    """Record a web sign-up for the normalised ``email``; the mail to send, if any."""
    with transaction(db):
        existing = store.get_subscriber_by_email(db, email)
        if existing is None:
            subscriber_id = store.insert_subscriber(
                db,
                store.NewSubscriber(
                    email=email,
                    name=choices.name,
                    status="pending",
                    frequency=choices.frequency,
                    source=SOURCE,
                ),
                now,
            )
            store.set_categories(db, subscriber_id, choices.category_ids)
            return MailJob("confirm", subscriber_id, email, choices.name, choices.category_names)
        if existing.status == "active":
            return MailJob(
                "welcome_back", existing.id, existing.email, existing.name, existing.categories
            )
        if existing.status in NEVER_AGAIN:
            return None
        # pending or unsubscribed: the newest request is the one they will confirm.
        store.update_subscriber(db, existing.id, name=choices.name, frequency=choices.frequency)
        store.set_categories(db, existing.id, choices.category_ids)
        store.record_event(db, existing.id, SIGNUP_EVENT, now, SOURCE, detail)
        return MailJob("confirm", existing.id, existing.email, choices.name, choices.category_names)


def resend(db: sqlite_utils.Database, email: str, now: datetime) -> MailJob | None:
    """For "send me a new confirmation link": pending readers get one, active readers their
    preferences link, everyone else nothing (an unsubscribed reader signs up again)."""
    with transaction(db):
        existing = store.get_subscriber_by_email(db, email)
        if existing is None or existing.status not in ("pending", "active"):
            return None
        if existing.status == "pending":
            store.record_event(db, existing.id, SIGNUP_EVENT, now, SOURCE, "resend")
        kind: Literal["confirm", "welcome_back"] = (
            "confirm" if existing.status == "pending" else "welcome_back"
        )
        return MailJob(kind, existing.id, existing.email, existing.name, existing.categories)


ConfirmOutcome = Literal["confirmed", "already", "invalid", "superseded"]


def confirmable(db: sqlite_utils.Database, claim: ConfirmClaim) -> ConfirmOutcome:
    """What confirming would do, without doing it (for the page with the button)."""
    subscriber = store.get_subscriber(db, claim.subscriber_id)
    if subscriber is None or not subscriber.email or not claim.matches(subscriber.email):
        return "invalid"
    if subscriber.status == "active":
        return "already"
    if subscriber.status in NEVER_AGAIN:
        return "invalid"
    if subscriber.status == "unsubscribed":
        asked = web_store.last_event_at(db, subscriber.id, SIGNUP_EVENT)
        left = subscriber.unsubscribed_at
        # A confirm link from before they unsubscribed is not consent to come back.
        if asked is None or (left is not None and asked < left):
            return "superseded"
    return "confirmed"


def confirm(
    db: sqlite_utils.Database, claim: ConfirmClaim, now: datetime, ip: str
) -> ConfirmOutcome:
    """Activate the subscriber the claim names; idempotent. Records the consent: the event
    (time, source, IP) and subscribers.consent_ip."""
    with transaction(db):
        outcome = confirmable(db, claim)
        if outcome != "confirmed":
            return outcome
        store.set_status(
            db, claim.subscriber_id, "active", now, SOURCE, f"ip {ip}", kind="confirmed"
        )
        web_store.set_consent_ip(db, claim.subscriber_id, ip)
    return "confirmed"


def save_preferences(
    db: sqlite_utils.Database, subscriber_id: int, choices: Choices, now: datetime
) -> bool:
    """Store new choices for a pending or active reader; False when they can no longer
    change anything (suppressed) or nothing changed."""
    with transaction(db):
        subscriber = store.get_subscriber(db, subscriber_id)
        if subscriber is None or subscriber.status not in ("pending", "active"):
            return False
        changed = (
            subscriber.name != choices.name
            or subscriber.frequency != choices.frequency
            or tuple(store.category_ids_for(db, subscriber_id)) != choices.category_ids
        )
        if changed:
            store.update_subscriber(
                db, subscriber_id, name=choices.name, frequency=choices.frequency
            )
            store.set_categories(db, subscriber_id, choices.category_ids)
            store.record_event(db, subscriber_id, "updated", now, SOURCE, "preferences")
        return changed


def unsubscribe(db: sqlite_utils.Database, subscriber_id: int, now: datetime, source: str) -> None:
    """Unsubscribe at once. Repeating it, or unsubscribing an address that bounced or was
    forgotten, changes nothing: those statuses say more than 'unsubscribed' does."""
    with transaction(db):
        subscriber = store.get_subscriber(db, subscriber_id)
        if subscriber is None or subscriber.status not in ("pending", "active"):
            return
        store.set_status(db, subscriber_id, "unsubscribed", now, source)
