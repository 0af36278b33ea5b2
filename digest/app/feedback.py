"""Use cases for what comes back from a send: bounces, complaints and policy rejections,
whether refused at SMTP time or reported later by mail, and the operator's reactivation.

Three ways in, one policy (:meth:`Feedback.apply_bounce`, ``[bounces]`` in digest.toml,
docs/email.md rules 22-24):

- hard bounce (5.1.x: the mailbox does not exist): status 'bounced' at once;
- soft bounce (any other failure, and 4xx give-ups): an event; 'bounced' once
  ``soft_limit`` editions bounced within ``soft_window_days``; older ones age out;
- complaint (ARF abuse report, SES complaint): status 'complained' at once;
- policy (x.7.x: authentication, reputation, content policy): the sender's problem. Counted
  per edition and reported to the operator, never held against the reader.

A report is matched to its reader by, in order: a VERP envelope sender, the original
Message-ID looked up in deliveries (which also gives the edition), and the recipient address
the report names. Anything else is reported as unrecognised, never guessed at.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from digest.app.audience import Audience
from digest.bounces.mailbox import Mailbox
from digest.bounces.parse import (
    Failure,
    NotAReport,
    Report,
    fingerprint,
    iter_messages,
    parse_report,
)
from digest.bounces.policy import ImportReport, StatusChange, count, evidence, smtp_failure
from digest.errors import InputError, NotFoundError
from digest.models import BounceKind, BounceRecord, Subscriber, SubscriberStatus
from digest.progress import NO_PROGRESS, Progress
from digest.store import bounces as store
from digest.store import subscribers as subscriber_store
from digest.tokens import read_verp


class Feedback(Audience):
    def apply_bounce(self, record: BounceRecord, source: str) -> SubscriberStatus | None:
        """Record one bounce or complaint and apply the policy; the reader's new status when
        it changed, else None. A reader who is already suppressed keeps their status (why
        they left stays visible). Safe inside the caller's transaction."""
        now = self.now()
        with self.store.transaction() as db:
            store.record_bounce(db, record)
            subscriber = subscriber_store.get_subscriber(db, record.subscriber_id)
            if subscriber is None or record.kind == BounceKind.POLICY:
                return None  # policy: the sender's problem, counted per edition, not an event
            if subscriber.status.suppressed:
                return None
            why = evidence(record)
            if record.kind == BounceKind.COMPLAINT:
                new = SubscriberStatus.COMPLAINED
            elif record.kind == BounceKind.HARD:
                new = SubscriberStatus.BOUNCED
            else:
                subscriber_store.record_event(db, subscriber.id, "soft_bounce", now, source, why)
                soft = self._soft_bounces(subscriber.id)
                if soft < self.settings.bounces.soft_limit:
                    return None
                window, limit = (
                    self.settings.bounces.soft_window_days,
                    self.settings.bounces.soft_limit,
                )
                why = f"{soft} soft bounces within {window} days (limit {limit}); latest: {why}"
                new = SubscriberStatus.BOUNCED
            subscriber_store.set_status(db, subscriber.id, new, now, source, why)
            return new

    def _soft_bounces(self, subscriber_id: int) -> int:
        since = self.now() - timedelta(days=self.settings.bounces.soft_window_days)
        # Soft bounces before an operator's reactivation were judged already.
        reactivated = subscriber_store.last_event_at(self.db, subscriber_id, "reactivated")
        if reactivated is not None and reactivated > since:
            since = reactivated
        return store.soft_bounce_count(self.db, subscriber_id, since)

    def record_smtp_failure(
        self, subscriber_id: int, edition_id: int | None, code: int, reply: str
    ) -> BounceKind | None:
        """Feed a final SMTP refusal into the policy; returns its kind, or None for code 0
        (no reply from the relay). Call it once per give-up: a 5xx, or a 4xx after the last
        attempt. ``reply`` is the relay's text, with or without the code in front."""
        failure = smtp_failure(code, reply)
        if failure is None:
            return None
        record = BounceRecord(
            subscriber_id=subscriber_id,
            edition_id=edition_id,
            kind=failure.kind,
            at=self.now(),
            status_code=failure.status,
            diagnostic=failure.text,
            origin="smtp",
        )
        self.apply_bounce(record, "smtp")
        return failure.kind

    def reactivate(self, email: str, reason: str, source: str = "cli") -> Subscriber:
        """Make a bounced or complained reader active again, with the operator's reason in
        the event. Unsubscribed and forgotten readers left by choice: only their own fresh
        consent (``digest subscribers add --reactivate``) brings them back."""
        reason = " ".join(reason.split())
        if not reason:
            raise InputError("a reason is required (it is recorded in the reader's history)")
        with self.store.transaction() as db:
            subscriber = self.find_subscriber(email)
            if subscriber.status not in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
                hint = (
                    "re-subscribe them with `digest subscribers add --reactivate` if they asked"
                    if subscriber.status.suppressed
                    else "nothing to do"
                )
                raise InputError(
                    f"{subscriber.email or email} is {subscriber.status}, "
                    "not bounced or complained",
                    hint=hint,
                )
            subscriber_store.set_status(
                db,
                subscriber.id,
                SubscriberStatus.ACTIVE,
                self.now(),
                source,
                reason,
                kind="reactivated",
            )
            updated = subscriber_store.get_subscriber(db, subscriber.id)
        if updated is None:  # just written in this transaction
            raise NotFoundError(f"no subscriber {email}")
        return updated

    def import_bounces(
        self, paths: Iterable[Path], *, progress: Progress = NO_PROGRESS
    ) -> ImportReport:
        """Import every message under ``paths``: one transaction per message, so an
        interrupted import resumes where it stopped. Messages matched to a reader, or
        recognised as needing nothing (a delay notice), are fingerprinted and skipped next
        time; unrecognised ones are not, so they are listed again until dealt with.
        ``progress`` counts messages with no total: an mbox is counted only by reading it."""
        report = ImportReport()
        progress.start(None, "Reading bounces")
        try:
            for path in paths:
                for origin, raw in iter_messages(path):
                    report.messages += 1
                    self._import_one(origin, raw, report)
                    progress.advance()
        finally:
            progress.done()
        return report

    def fetch_bounces(
        self, mailbox: Mailbox | None = None, *, progress: Progress = NO_PROGRESS
    ) -> ImportReport:
        """Read the bounce mailbox ([bounces] imap_url) over IMAP: each message is imported
        as by :meth:`import_bounces` (its own transaction, idempotent by fingerprint), then
        moved to ``done_folder``, or to ``unrecognised_folder`` when it is no report about
        our readers. Record first, then move: a kill in between leaves the message in the
        folder, to be read again and found already imported."""
        bounces = self.settings.bounces
        if mailbox is None:
            if not bounces.imap_url:
                raise InputError("no bounce mailbox: set [bounces] imap_url in digest.toml")
            mailbox = Mailbox.from_settings(bounces.imap_url, bounces.imap_password_env)
        report = ImportReport()
        with mailbox:
            uids = mailbox.uids()
            progress.start(len(uids), "Fetching bounces")
            for uid in uids:
                raw = mailbox.fetch(uid)
                report.messages += 1
                before = len(report.unrecognised)
                self._import_one(f"{mailbox.url.folder}/{uid}", raw, report)
                known = len(report.unrecognised) == before
                mailbox.move(uid, bounces.done_folder if known else bounces.unrecognised_folder)
                progress.advance()
            progress.done()
        return report

    def _import_one(self, origin: str, raw: bytes, report: ImportReport) -> None:
        key = fingerprint(raw)
        now = self.now()
        if store.is_processed(self.db, key):
            report.already_imported += 1
            return
        try:
            parsed = parse_report(raw)
        except NotAReport as e:
            report.unrecognised.append((origin, str(e)))
            return
        if parsed.ignored:
            with self.store.transaction() as db:
                store.mark_processed(db, key, origin, "ignored", now)
            report.ignored.append((origin, parsed.ignored))
            return
        at = min(parsed.at or now, now)  # a report dated in the future is dated now
        with self.store.transaction() as db:
            misses = []
            for failure in parsed.failures:
                matched = self._match(parsed, failure)
                if matched is None:
                    misses.append(failure.recipient or "(address redacted)")
                    continue
                subscriber, edition_id = matched
                record = BounceRecord(
                    subscriber_id=subscriber.id,
                    edition_id=edition_id,
                    kind=BounceKind(failure.kind),
                    at=at,
                    status_code=failure.status,
                    diagnostic=failure.diagnostic,
                    origin=origin,
                    fingerprint=key,
                )
                new = self.apply_bounce(record, "bounces")
                count(report, record)
                if new is not None:
                    change = StatusChange(
                        subscriber.email, subscriber.status, new, evidence(record), origin
                    )
                    report.changes.append(change)
            if len(misses) < len(parsed.failures):
                store.mark_processed(db, key, origin, "applied", now)
        if misses:
            report.unrecognised.append(
                (
                    origin,
                    f"{parsed.format} report for {', '.join(misses)}: no subscriber matches "
                    "(neither the Message-ID, the envelope nor the address is ours)",
                )
            )

    def _match(self, parsed: Report, failure: Failure) -> tuple[Subscriber, int | None] | None:
        """The reader a failure belongs to and, when known, the edition; None: not ours."""
        db = self.db
        delivery = store.find_delivery(db, parsed.message_ids)
        subscriber_id = read_verp(self.settings, parsed.sent_to)
        if subscriber_id is None and delivery is not None:
            # One recipient per message we send, so the Message-ID names the reader, even
            # when the report names a forwarding address. Several failures in one report:
            # only the one at the reader's address is theirs.
            owner = subscriber_store.get_subscriber(db, delivery[1])
            single = len(parsed.failures) == 1
            if owner is not None and (single or owner.email.lower() == failure.recipient):
                subscriber_id = owner.id
        if subscriber_id is None and failure.recipient:
            by_address = subscriber_store.get_subscriber_by_email(db, failure.recipient)
            subscriber_id = by_address.id if by_address else None
        if subscriber_id is None:
            return None
        subscriber = subscriber_store.get_subscriber(db, subscriber_id)
        if subscriber is None:
            return None
        edition_id = delivery[0] if delivery is not None and delivery[1] == subscriber.id else None
        return subscriber, edition_id
