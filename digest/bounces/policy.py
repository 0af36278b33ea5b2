"""The policy: record a bounce or complaint against its reader and change their status
(``[bounces]`` in digest.toml), from an SMTP refusal, an imported report, or an
operator's reactivation; and the import that matches reports to readers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from digest.bounces.classify import enhanced_code, failure_kind
from digest.bounces.parse import (
    DIAGNOSTIC_CHARS,
    Failure,
    NotAReport,
    Report,
    fingerprint,
    iter_messages,
    parse_report,
)
from digest.config import Settings
from digest.errors import InputError, NotFoundError
from digest.models import SUPPRESSED_STATUSES, Subscriber
from digest.store import bounces as store
from digest.store import subscribers as subscriber_store
from digest.store import transaction
from digest.subscribers import get_subscriber
from digest.tokens import read_verp


def apply_bounce(
    db: sqlite_utils.Database,
    settings: Settings,
    record: store.BounceRecord,
    now: datetime,
    source: str,
) -> str | None:
    """Record one bounce or complaint and apply the policy; the reader's new status when it
    changed, else None. A reader who is already suppressed keeps their status (why they
    left stays visible). Safe inside the caller's transaction."""
    with transaction(db):
        store.record_bounce(db, record)
        subscriber = subscriber_store.get_subscriber(db, record.subscriber_id)
        if subscriber is None or record.kind == "policy":
            return None  # policy: the sender's problem, counted per edition, not an event
        if subscriber.status in SUPPRESSED_STATUSES:
            return None
        evidence = _evidence(record)
        if record.kind == "complaint":
            subscriber_store.set_status(db, subscriber.id, "complained", now, source, evidence)
            return "complained"
        if record.kind == "hard":
            subscriber_store.set_status(db, subscriber.id, "bounced", now, source, evidence)
            return "bounced"
        subscriber_store.record_event(db, subscriber.id, "soft_bounce", now, source, evidence)
        since = now - timedelta(days=settings.bounces.soft_window_days)
        # Soft bounces before an operator's reactivation were judged already.
        reactivated = store.last_event_at(db, subscriber.id, "reactivated")
        if reactivated is not None and reactivated > since:
            since = reactivated
        count = store.soft_bounce_count(db, subscriber.id, since)
        if count < settings.bounces.soft_limit:
            return None
        detail = (
            f"{count} soft bounces within {settings.bounces.soft_window_days} days "
            f"(limit {settings.bounces.soft_limit}); latest: {evidence}"
        )
        subscriber_store.set_status(db, subscriber.id, "bounced", now, source, detail)
        return "bounced"


def _evidence(record: store.BounceRecord) -> str:
    """One line for the event: what, the code, what the server said, where it came from."""
    label = {"complaint": "complaint", "policy": "policy rejection"}.get(
        record.kind, f"{record.kind} bounce"
    )
    parts = [
        label,
        record.status_code,
        record.diagnostic,
        f"edition {record.edition_id}" if record.edition_id is not None else "",
        f"from {record.origin}" if record.origin not in ("", "smtp") else "",
    ]
    return "; ".join(p for p in parts if p)


def record_smtp_failure(
    db: sqlite_utils.Database,
    subscriber_id: int,
    edition_id: int | None,
    result_code: int,
    reply: str,
    now: datetime,
    settings: Settings,
) -> str:
    """Feed a final SMTP refusal into the policy; returns its kind (hard, soft, policy, or
    ignored for code 0: no reply from the relay).
    Call it once per give-up: a 5xx, or a 4xx after the last attempt (the delivery becomes
    'deferred'). ``reply`` is the relay's text, with or without the code in front."""
    if 200 <= result_code < 300:
        raise ValueError("an accepted message is not a failure")
    if result_code == 0:
        # No SMTP reply at all (cannot connect, connection dropped): our side or the relay,
        # never the reader's mailbox.
        return "ignored"
    text = reply if reply[:3].isdigit() else f"{result_code} {reply}".strip()
    status = enhanced_code(text.split(" ", 2)[1] if " " in text else "")
    kind = failure_kind(status, text)
    if kind == "hard" and 400 <= result_code < 500:
        kind = "soft"  # a 4.1.x is the relay saying "not now", not "no such mailbox"
    record = store.BounceRecord(
        subscriber_id=subscriber_id,
        edition_id=edition_id,
        kind=kind,
        at=now,
        status_code=status,
        diagnostic=text[:DIAGNOSTIC_CHARS],
        origin="smtp",
    )
    apply_bounce(db, settings, record, now, "smtp")
    return kind


def reactivate(
    db: sqlite_utils.Database, email: str, reason: str, now: datetime, source: str = "cli"
) -> Subscriber:
    """Make a bounced or complained reader active again, with the operator's reason in the
    event. Unsubscribed and forgotten readers left by choice: only their own fresh consent
    (``digest subscribers add --reactivate``) brings them back."""
    reason = " ".join(reason.split())
    if not reason:
        raise InputError("a reason is required (it is recorded in the reader's history)")
    with transaction(db):
        subscriber = get_subscriber(db, email)
        if subscriber.status not in ("bounced", "complained"):
            hint = (
                "re-subscribe them with `digest subscribers add --reactivate` if they asked"
                if subscriber.status in SUPPRESSED_STATUSES
                else "nothing to do"
            )
            raise InputError(
                f"{subscriber.email or email} is {subscriber.status}, not bounced or complained",
                hint=hint,
            )
        subscriber_store.set_status(
            db, subscriber.id, "active", now, source, reason, kind="reactivated"
        )
        updated = subscriber_store.get_subscriber(db, subscriber.id)
    if updated is None:  # just written in this transaction
        raise NotFoundError(f"no subscriber {email}")
    return updated


# -- importing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    email: str
    old: str
    new: str
    evidence: str
    origin: str


@dataclass
class ImportReport:
    """What an import did. ``unrecognised`` and ``ignored`` list (origin, reason)."""

    messages: int = 0
    already_imported: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    policy: int = 0
    changes: list[StatusChange] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    unrecognised: list[tuple[str, str]] = field(default_factory=list)
    policy_details: list[tuple[str, str]] = field(default_factory=list)  # (origin, evidence)

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "already_imported": self.already_imported,
            "hard": self.hard,
            "soft": self.soft,
            "complaints": self.complaints,
            "policy": self.policy,
            "changes": [vars(c) for c in self.changes],
            "policy_rejections": [{"file": o, "evidence": e} for o, e in self.policy_details],
            "ignored": [{"file": o, "reason": r} for o, r in self.ignored],
            "unrecognised": [{"file": o, "reason": r} for o, r in self.unrecognised],
        }


def import_bounces(
    db: sqlite_utils.Database,
    settings: Settings,
    paths: Iterable[Path],
    now: datetime,
) -> ImportReport:
    """Import every message under ``paths``: one transaction per message, so an
    interrupted import resumes where it stopped. Messages matched to a reader, or
    recognised as needing nothing (a delay notice), are fingerprinted and skipped next
    time; unrecognised ones are not, so they are listed again until dealt with."""
    report = ImportReport()
    for path in paths:
        for origin, raw in iter_messages(path):
            report.messages += 1
            _import_one(db, settings, origin, raw, now, report)
    return report


def _import_one(
    db: sqlite_utils.Database,
    settings: Settings,
    origin: str,
    raw: bytes,
    now: datetime,
    report: ImportReport,
) -> None:
    key = fingerprint(raw)
    if store.is_processed(db, key):
        report.already_imported += 1
        return
    try:
        parsed = parse_report(raw)
    except NotAReport as e:
        report.unrecognised.append((origin, str(e)))
        return
    if parsed.ignored:
        with transaction(db):
            store.mark_processed(db, key, origin, "ignored", now)
        report.ignored.append((origin, parsed.ignored))
        return
    at = min(parsed.at or now, now)  # a report dated in the future is dated now
    with transaction(db):
        misses = []
        for failure in parsed.failures:
            matched = _match(db, settings, parsed, failure)
            if matched is None:
                misses.append(failure.recipient or "(address redacted)")
                continue
            subscriber, edition_id = matched
            record = store.BounceRecord(
                subscriber_id=subscriber.id,
                edition_id=edition_id,
                kind=failure.kind,
                at=at,
                status_code=failure.status,
                diagnostic=failure.diagnostic,
                origin=origin,
                fingerprint=key,
            )
            new = apply_bounce(db, settings, record, now, "bounces")
            _count(report, failure.kind, origin, record)
            if new is not None:
                report.changes.append(
                    StatusChange(
                        subscriber.email, subscriber.status, new, _evidence(record), origin
                    )
                )
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


def _match(
    db: sqlite_utils.Database, settings: Settings, parsed: Report, failure: Failure
) -> tuple[Subscriber, int | None] | None:
    """The reader a failure belongs to and, when known, the edition; None: not ours."""
    delivery = store.find_delivery(db, parsed.message_ids)
    subscriber_id = read_verp(settings, parsed.sent_to)
    if subscriber_id is None and delivery is not None:
        # One recipient per message we send, so the Message-ID names the reader, even when
        # the report names a forwarding address. Several failures in one report: only the
        # one at the reader's address is theirs.
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


def _count(report: ImportReport, kind: str, origin: str, record: store.BounceRecord) -> None:
    if kind == "hard":
        report.hard += 1
    elif kind == "soft":
        report.soft += 1
    elif kind == "complaint":
        report.complaints += 1
    else:
        report.policy += 1
        report.policy_details.append((origin, _evidence(record)))
