"""Bounces and complaints: read the reports, match them to readers, apply the policy.

Three ways in, one policy (:func:`apply_bounce`):

- SMTP time: the send loop hands each final refusal to :func:`record_smtp_failure`.
- Reports that arrive later by mail, imported with :func:`import_bounces` from .eml files,
  folders of them, mbox files or Maildir folders: RFC 3464 delivery status notifications,
  ARF complaint reports (RFC 5965), Amazon SES notifications (JSON, as SNS mails them), and
  the non-standard bounce formats flufl.bounce knows.

The policy (EMAIL.md points 22-24, ``[bounces]`` in digest.toml):

- hard bounce (5.1.x: the mailbox does not exist): status 'bounced' at once;
- soft bounce (any other failure, and 4xx give-ups): an event; 'bounced' once
  ``soft_limit`` editions bounced within ``soft_window_days``; older ones age out;
- complaint (ARF abuse report, SES complaint): status 'complained' at once;
- policy (x.7.x: authentication, reputation, content policy): the sender's problem. Counted
  per edition and reported to the operator, never held against the reader.

A report is matched to its reader by, in order: a VERP envelope sender
(``[sender] return_path`` with a ``{token}``, see :func:`verp_address`), the original
Message-ID looked up in deliveries (which also gives the edition), and the recipient address
the report names. Anything else is reported as unrecognised, never guessed at.
"""

from __future__ import annotations

import hashlib
import json
import mailbox
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from flufl.bounce import all_failures

from digest.config import Settings
from digest.errors import InputError, NotFoundError
from digest.models import SUPPRESSED_STATUSES, Subscriber
from digest.store import bounces as store
from digest.store import subscribers as subscriber_store
from digest.store import transaction
from digest.subscribers import get_subscriber
from digest.tokens import read_verp, verp_address

# An RFC 3463 code: class.subject.detail. Not inside a longer dotted number (an IP address).
_ENHANCED = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_BASIC = re.compile(r"(?<![\w.])([45]\d\d)(?=[ -])")
_MESSAGE_ID_LINE = re.compile(rb"(?im)^[ \t>]*message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^<>\s]+>)")
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[ -]?(reply|response)|out of (the )?office|auto:)",
    re.IGNORECASE,
)
# Headers of a report that carry the address it was sent to: our envelope sender.
_DELIVERED_TO = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
DIAGNOSTIC_CHARS = 300


# -- classification -------------------------------------------------------------------------


def enhanced_code(text: str) -> str:
    """The first RFC 3463 code in ``text`` ('5.1.1'), or ''."""
    found = _ENHANCED.search(text)
    return ".".join(found.groups()) if found else ""


def failure_kind(status: str, text: str = "") -> str:
    """hard, soft or policy for a delivery failure with RFC 3463 ``status`` ('' if none)
    and the diagnostic ``text``. The same rules as the send loop's
    :func:`digest.deliver.smtp.classify` ('bounce' there is 'hard' here): 5.1.x, or a bare
    550 saying "user unknown", is a hard bounce; x.7.x is policy; everything else is soft.
    A generic X.0.0 status defers to a more specific code in the text."""
    code = status or enhanced_code(text)
    if code.endswith(".0.0"):
        specific = enhanced_code(text)
        if specific and specific[0] == code[0]:
            code = specific
    if code:
        cls, subject, _ = code.split(".")
        if subject == "7":
            return "policy"
        return "hard" if (cls, subject) == ("5", "1") else "soft"
    basic = _BASIC.search(text)
    if basic and basic.group(1) == "550" and "user unknown" in text.lower():
        return "hard"
    return "soft"


# -- VERP -----------------------------------------------------------------------------------


# -- parsing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """One recipient's failure (or complaint) in a report."""

    recipient: str  # the address the report names; '' when redacted
    kind: str  # hard, soft, policy, complaint
    status: str = ""  # RFC 3463 code
    diagnostic: str = ""


@dataclass(frozen=True)
class Report:
    """What one bounce or complaint message says."""

    format: str  # dsn, arf, ses, or the flufl.bounce detector's format
    failures: tuple[Failure, ...] = ()
    message_ids: tuple[str, ...] = ()  # of the original message, best first
    sent_to: tuple[str, ...] = ()  # addresses the report went to (VERP candidates)
    at: datetime | None = None  # when it was reported
    ignored: str = ""  # recognised, nothing to do (a delay or success notice, not-spam)


class NotAReport(Exception):
    """The message is not a bounce or complaint we can read; the text says why."""


def parse_report(raw: bytes) -> Report:
    """Read a bounce or complaint message, or raise NotAReport."""
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        return _parse(msg, raw)
    except NotAReport:
        raise
    except (ValueError, LookupError, TypeError, AttributeError, UnicodeError) as e:
        # Mail is untrusted input and the email package raises these on some malformed
        # headers and bodies: one bad message must not stop an import.
        raise NotAReport(f"malformed message ({type(e).__name__}: {e})") from e


def _parse(msg: EmailMessage, raw: bytes) -> Report:
    if not msg.keys():
        raise NotAReport("not an email message (no headers)")
    parts = list(_leaves_and_containers(msg))
    common: dict[str, Any] = {
        "message_ids": _original_message_ids(msg, raw),
        "sent_to": _sent_to(msg),
        "at": _date(msg.get("Date")),
    }
    feedback = [p for p in parts if p.get_content_type() == "message/feedback-report"]
    if feedback:
        return _arf(feedback[0], msg, common)
    statuses = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    if statuses:
        return _dsn(statuses, common)
    ses = _ses_notification(msg)
    if ses is not None:
        return _ses(ses, common)
    return _nonstandard(msg, common)


def _leaves_and_containers(msg: Message) -> Iterator[Message]:
    """Every part, without descending into attached messages (message/rfc822): their
    text is the original mail, not the report."""
    yield msg
    if msg.get_content_maintype() == "multipart" and isinstance(msg.get_payload(), list):
        for part in msg.get_payload():
            if isinstance(part, Message):
                yield from _leaves_and_containers(part)


def _header_blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = payload if isinstance(payload, str) else ""
    blocks = re.split(r"\r?\n[ \t]*\r?\n", text.strip())
    return [HeaderParser(policy=policy.default).parsestr(b) for b in blocks if b.strip()]


def _field(block: Message, name: str) -> str:
    return " ".join(str(block.get(name, "")).split())


def _address(value: str) -> str:
    """The address in 'rfc822; <a@b>' or '<a@b>'."""
    value = value.split(";", 1)[1] if ";" in value else value
    return parseaddr(value.strip())[1].strip().lower()


def _dsn(statuses: list[Message], common: dict[str, Any]) -> Report:
    failures: list[Failure] = []
    other: set[str] = set()
    for part in statuses:
        for block in _header_blocks(part):
            recipient = _address(
                _field(block, "Original-Recipient") or _field(block, "Final-Recipient")
            )
            action = _field(block, "Action").lower()
            if not recipient and not action:
                continue  # the per-message block (Reporting-MTA, Arrival-Date)
            if action.startswith(("fail", "error")):  # opensmtpd says 'error'
                diagnostic = _field(block, "Diagnostic-Code")
                status = enhanced_code(_field(block, "Status"))
                kind = failure_kind(status, diagnostic)
                if status.endswith(".0.0") and enhanced_code(diagnostic)[:1] == status[:1]:
                    status = enhanced_code(diagnostic)
                failures.append(Failure(recipient, kind, status, diagnostic[:DIAGNOSTIC_CHARS]))
            else:
                other.add(action.split()[0] if action else "unknown")
    if failures:
        return Report("dsn", tuple(failures), **common)
    what = "delay" if other == {"delayed"} else "/".join(sorted(other)) or "empty"
    return Report("dsn", ignored=f"delivery status notification: {what}, no failure", **common)


def _arf(part: Message, msg: Message, common: dict[str, Any]) -> Report:
    blocks = _header_blocks(part)
    report = blocks[0] if blocks else Message()
    feedback_type = _field(report, "Feedback-Type").lower() or "abuse"
    recipient = _address(_field(report, "Original-Rcpt-To"))
    if not recipient:
        original = _original_headers(msg)
        recipient = _address(str(original[0].get("To", ""))) if original else ""
    sender = _address(_field(report, "Original-Mail-From"))
    common = {**common, "sent_to": (*common["sent_to"], sender)}
    if feedback_type == "not-spam":
        return Report("arf", ignored="complaint report of type not-spam", **common)
    # auth-failure reports are about our SPF/DKIM/DMARC: the sender's problem.
    kind = "policy" if feedback_type == "auth-failure" else "complaint"
    diagnostic = f"feedback-type {feedback_type}"
    agent = _field(report, "User-Agent")
    if agent:
        diagnostic += f" from {agent}"
    return Report("arf", (Failure(recipient, kind, "", diagnostic),), **common)


def _ses_notification(msg: EmailMessage) -> dict[str, Any] | None:
    """An Amazon SES bounce or complaint notification as SNS mails it: JSON in the text
    body, either the SES object itself or the SNS envelope around it."""
    for part in msg.walk():
        if part.get_content_type() not in ("text/plain", "application/json"):
            continue
        try:
            text = str(part.get_content())
        except (LookupError, ValueError, AttributeError):
            continue
        start = text.find("{")
        if start < 0:
            continue
        try:
            data, _ = json.JSONDecoder().raw_decode(text[start:])
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("Message"), str):
            try:
                data = json.loads(data["Message"])
            except ValueError:
                continue
        if isinstance(data, dict) and (data.get("notificationType") or data.get("eventType")):
            return data
    return None


def _ses(data: dict[str, Any], common: dict[str, Any]) -> Report:
    kind_name = str(data.get("notificationType") or data.get("eventType"))
    mail = data.get("mail") if isinstance(data.get("mail"), dict) else {}
    assert isinstance(mail, dict)
    ids = [str(h.get("value", "")) for h in mail.get("headers", []) if isinstance(h, dict)
           and str(h.get("name", "")).lower() == "message-id"]
    headers = mail.get("commonHeaders") if isinstance(mail.get("commonHeaders"), dict) else {}
    assert isinstance(headers, dict)
    ids.append(str(headers.get("messageId", "")))
    common = {
        **common,
        "message_ids": tuple(dict.fromkeys(i.strip() for i in ids if i.strip()))
        + common["message_ids"],
        "sent_to": (*common["sent_to"], str(mail.get("source", ""))),
    }
    failures: list[Failure] = []
    if kind_name == "Bounce":
        bounce = data.get("bounce") or {}
        permanent = str(bounce.get("bounceType")) == "Permanent"
        common["at"] = _iso_time(bounce.get("timestamp")) or common["at"]
        for r in bounce.get("bouncedRecipients", []):
            status = enhanced_code(str(r.get("status", "")))
            diagnostic = " ".join(str(r.get("diagnosticCode", "")).split())
            # No code: SES's own verdict (Permanent: NoEmail, Suppressed...) decides.
            kind = failure_kind(status, diagnostic) if status else (
                "hard" if permanent else "soft")
            failures.append(Failure(
                _address(str(r.get("emailAddress", ""))), kind, status,
                (diagnostic or f"SES {bounce.get('bounceType')}/{bounce.get('bounceSubType')}")
                [:DIAGNOSTIC_CHARS],
            ))
    elif kind_name == "Complaint":
        complaint = data.get("complaint") or {}
        feedback_type = str(complaint.get("complaintFeedbackType") or "abuse")
        if feedback_type == "not-spam":
            return Report("ses", ignored="SES complaint of type not-spam", **common)
        common["at"] = _iso_time(complaint.get("timestamp")) or common["at"]
        for r in complaint.get("complainedRecipients", []):
            failures.append(Failure(
                _address(str(r.get("emailAddress", ""))), "complaint", "",
                f"SES complaint, feedback-type {feedback_type}",
            ))
    else:
        return Report("ses", ignored=f"SES {kind_name} notification", **common)
    return Report("ses", tuple(failures), **common)


def _nonstandard(msg: EmailMessage, common: dict[str, Any]) -> Report:
    try:
        temporary, permanent = all_failures(msg)
    except (ValueError, LookupError, TypeError, AttributeError, UnicodeError):
        temporary, permanent = frozenset(), frozenset()
    text = _notification_text(msg)
    failures = []
    for raw_address in sorted(permanent):
        address = raw_address.decode("ascii", "replace").strip().lower()
        diagnostic = _diagnostic_near(text, address)
        status = enhanced_code(diagnostic)
        failures.append(Failure(address, failure_kind(status, diagnostic), status, diagnostic))
    if failures:
        return Report("text", tuple(failures), **common)
    if temporary:
        return Report("text", ignored="delay warning, no failure", **common)
    if _is_auto_reply(msg):
        raise NotAReport("auto-reply (out of office or similar), not a bounce")
    raise NotAReport("not a bounce or complaint report")


def _notification_text(msg: EmailMessage) -> str:
    chunks = []
    for part in _leaves_and_containers(msg):
        if part.get_content_type() == "text/plain" and isinstance(part, EmailMessage):
            try:
                chunks.append(str(part.get_content()))
            except (LookupError, ValueError, AttributeError):
                continue
    return "\n".join(chunks)


def _diagnostic_near(text: str, address: str) -> str:
    """The line with the first status code after the address's first mention, else the
    first in the text: what the remote server said about that recipient."""
    start = max(text.lower().find(address), 0)
    for scope in (text[start : start + 1500], text):
        for pattern in (_ENHANCED, _BASIC):
            found = pattern.search(scope)
            if found:
                line_start = scope.rfind("\n", 0, found.start()) + 1
                line_end = scope.find("\n", found.end())
                line = scope[line_start : line_end if line_end >= 0 else None]
                return " ".join(line.split())[:DIAGNOSTIC_CHARS]
    return ""


def _is_auto_reply(msg: Message) -> bool:
    auto = str(msg.get("Auto-Submitted", "")).lower()
    return (
        auto.startswith("auto-replied")
        or any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"))
        or str(msg.get("Precedence", "")).lower() == "auto_reply"
        or bool(_AUTO_REPLY_SUBJECT.match(str(msg.get("Subject", ""))))
    )


def _original_headers(msg: Message) -> list[Message]:
    """The header blocks of the original message the report returns, if any."""
    found: list[Message] = []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            found.extend(p for p in part.get_payload() if isinstance(p, Message))
        elif kind == "text/rfc822-headers":
            found.append(HeaderParser(policy=policy.default).parsestr(str(part.get_payload())))
    return found


def _original_message_ids(msg: Message, raw: bytes) -> tuple[str, ...]:
    """Message-IDs that may be the original's, most reliable first: the returned headers,
    then Message-ID lines anywhere (text bounces quote the original inline), then
    In-Reply-To and References. The report's own Message-ID is left out."""
    own = str(msg.get("Message-ID", "")).strip()
    ids = [str(h.get("Message-ID", "")).strip() for h in _original_headers(msg)]
    ids += [m.decode("ascii", "replace") for m in _MESSAGE_ID_LINE.findall(raw)]
    for name in ("In-Reply-To", "References"):
        ids += re.findall(r"<[^<>\s]+>", str(msg.get(name, "")))
    return tuple(i for i in dict.fromkeys(ids) if i and i != own)


def _sent_to(msg: Message) -> tuple[str, ...]:
    values = [str(v) for name in _DELIVERED_TO for v in msg.get_all(name, [])]
    values += [str(h.get("Return-Path", "")) for h in _original_headers(msg)]
    return tuple(a for _, a in getaddresses(values) if a)


def _date(value: object) -> datetime | None:
    try:
        at = parsedate_to_datetime(str(value)) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    if at is None:
        return None
    # -0000 (no zone: qmail writes it) parses as naive; RFC 5322 says the time is UTC.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _iso_time(value: object) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo else None


def fingerprint(raw: bytes) -> str:
    """What makes a message the same message on a second import: its Message-ID, else a
    hash of its bytes (line endings normalised, so an mbox and a Maildir copy agree)."""
    text = raw.replace(b"\r\n", b"\n")
    header_end = text.find(b"\n\n")
    # \s*: the value may be folded onto the next line (Exchange does).
    found = re.search(rb"(?im)^message-id:\s*(<[^<>\s]+>)", text[: max(header_end, 0)])
    if found:
        return "mid:" + found.group(1).decode("ascii", "replace")
    return "sha256:" + hashlib.sha256(text.rstrip()).hexdigest()


# -- the policy -----------------------------------------------------------------------------


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
        subscriber_id=subscriber_id, edition_id=edition_id, kind=kind, at=now,
        status_code=status, diagnostic=text[:DIAGNOSTIC_CHARS], origin="smtp",
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
                f"{subscriber.email or email} is {subscriber.status}, not bounced or "
                f"complained", hint=hint,
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


def iter_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """(origin, bytes) of each message in an .eml file, an mbox file, a Maildir folder or a
    folder of .eml files. Read-only: Maildir messages are not moved or flagged."""
    if path.is_dir():
        if (path / "cur").is_dir() and (path / "new").is_dir():
            box = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(box.keys()):
                yield f"{path}/{key}", box.get_bytes(key)
            return
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".eml")
        if not files:
            raise InputError(f"{path}: not a Maildir (no cur/ and new/) and no .eml files in it")
        for file in files:
            yield str(file), file.read_bytes()
        return
    try:
        with path.open("rb") as handle:
            head = handle.read(5)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or folder") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e}") from e
    if head == b"From ":
        box_ = mailbox.mbox(path, create=False)
        for number, key in enumerate(box_.keys(), 1):
            yield f"{path}#{number}", box_.get_bytes(key)
        return
    yield str(path), path.read_bytes()


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
                subscriber_id=subscriber.id, edition_id=edition_id, kind=failure.kind, at=at,
                status_code=failure.status, diagnostic=failure.diagnostic, origin=origin,
                fingerprint=key,
            )
            new = apply_bounce(db, settings, record, now, "bounces")
            _count(report, failure.kind, origin, record)
            if new is not None:
                report.changes.append(
                    StatusChange(subscriber.email, subscriber.status, new, _evidence(record),
                                 origin)
                )
        if len(misses) < len(parsed.failures):
            store.mark_processed(db, key, origin, "applied", now)
    if misses:
        report.unrecognised.append(
            (origin, f"{parsed.format} report for {', '.join(misses)}: no subscriber matches "
                     "(neither the Message-ID, the envelope nor the address is ours)")
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


__all__ = [
    "Failure",
    "ImportReport",
    "NotAReport",
    "Report",
    "StatusChange",
    "apply_bounce",
    "enhanced_code",
    "failure_kind",
    "fingerprint",
    "import_bounces",
    "iter_messages",
    "parse_report",
    "reactivate",
    "read_verp",
    "record_smtp_failure",
    "verp_address",
]
