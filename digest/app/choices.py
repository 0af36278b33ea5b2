"""Use cases for the readers' own choices on the pages: their timezone (on the sign-up form
and the preferences page) and a pause of a few weeks (preferences). Each wraps the sign-up
or preferences use case of :mod:`digest.app.signup` in one transaction with the extra
choices, so a form is saved whole or not at all.

A paused reader stays active: each edition opened while they are paused records their
delivery as skipped, with "paused until <date>" as the reason (store/choices.py), and the
first edition opened after that date includes them again, with nothing for them to do.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from digest.app.editions import Editions
from digest.app.signup import Choices, MailJob, Signup
from digest.deliver.smtp import SendResult
from digest.errors import ConfigError, InputError
from digest.models import OutgoingMessage, Recipient
from digest.store import choices as store
from digest.store import subscribers as subscriber_store
from digest.validate import checked, validate_timezone

PAUSE_WEEKS = (2, 4, 8)
WELCOMES = ("latest", "short", "none")


class ReaderChoices(Signup, Editions):
    def sign_up_in_zone(
        self, email: str, choices: Choices, detail: str, timezone: str | None
    ) -> MailJob:
        """:meth:`Signup.sign_up` with the timezone the form asked for."""
        zone = None if timezone is None else checked("timezone", validate_timezone, timezone)
        # The zone is kept with the sign-up request and applied when its owner confirms,
        # like the other choices (a stranger must not change anyone's settings).
        return self.sign_up(email, dataclasses.replace(choices, timezone=zone), detail)

    def save_reader_choices(
        self,
        subscriber_id: int,
        choices: Choices,
        *,
        timezone: str | None = None,
        pause_weeks: int | None = None,
    ) -> bool:
        """Save the preferences form: :meth:`Signup.save_preferences`, the timezone, and a
        pause (``pause_weeks``: 2, 4 or 8 weeks from now; 0 resumes now; None leaves it)."""
        zone = None if timezone is None else checked("timezone", validate_timezone, timezone)
        if pause_weeks is not None and pause_weeks not in (0, *PAUSE_WEEKS):
            raise InputError(f"pause: 0, 2, 4 or 8 weeks, not {pause_weeks}")
        now = self.now()
        with self.store.transaction() as db:
            subscriber = subscriber_store.get_subscriber(db, subscriber_id)
            if subscriber is None or subscriber.status.suppressed:
                return False
            changed = self.save_preferences(subscriber_id, choices)
            if zone is not None and store.set_timezone(db, subscriber_id, zone):
                changed = True
                subscriber_store.record_event(db, subscriber_id, "updated", now, "web", "timezone")
            if pause_weeks is not None:
                until = now + timedelta(weeks=pause_weeks) if pause_weeks else None
                if until != store.paused_until(db, subscriber_id):
                    store.set_paused_until(db, subscriber_id, until)
                    changed = True
                    detail = f"until {until:%Y-%m-%d}" if until else "resumed"
                    kind = "paused" if until else "resumed"
                    subscriber_store.record_event(db, subscriber_id, kind, now, "web", detail)
        return changed

    def reader_paused_until(self, subscriber_id: int) -> datetime | None:
        """When the reader's pause ends; None when they are not paused now."""
        until = store.paused_until(self.db, subscriber_id)
        return until if until is not None and until > self.now() else None

    # -- the welcome email -------------------------------------------------------------------

    def check_welcome_setting(self) -> None:
        welcome = self.settings.web.welcome
        if welcome not in WELCOMES:
            raise ConfigError(f"web.welcome: one of {', '.join(WELCOMES)}, not {welcome!r}")

    def welcome_message(self, subscriber_id: int) -> OutgoingMessage | None:
        """The mail for a reader who has just confirmed, as [web] welcome says: "latest", the
        digest of their categories as it stands now (subject "Welcome! ..."), or the short
        note when nothing is new; "short", the note; "none", nothing."""
        self.check_welcome_setting()
        welcome = self.settings.web.welcome
        subscriber = subscriber_store.get_subscriber(self.db, subscriber_id)
        if welcome == "none" or subscriber is None or subscriber.status != "active":
            return None
        now = self.now()
        if welcome == "latest":
            preview = self.preview_for_subscriber(subscriber.email, now)
            if preview is not None:
                renderer = self.new_renderer()
                variant = renderer.render_variant(preview.content, subject_prefix="Welcome! ")
                return renderer.personalise(
                    variant, preview.recipient, message_id=self.message_id(), date=now
                )
        recipient = Recipient(subscriber.id, subscriber.email, subscriber.name)
        return self.renderer.render_welcome(
            recipient, categories=subscriber.categories, message_id=self.message_id(), date=now
        )

    def send_welcome(self, subscriber_id: int) -> SendResult | None:
        message = self.welcome_message(subscriber_id)
        if message is None:
            return None
        transport = self.transports()
        try:
            return transport.send(message)
        finally:
            transport.close()
