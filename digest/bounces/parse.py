"""Parsing: one bounce or complaint message in, a ``Report`` out. RFC 3464 delivery status
notifications, ARF complaint reports (RFC 5965), Amazon SES notifications (JSON, as SNS
mails them) and the non-standard formats flufl.bounce knows; and reading the messages out
of .eml files, folders of them, mbox files and Maildir folders."""

from __future__ import annotations

import hashlib
import json
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

from digest.bounces.classify import _BASIC, _ENHANCED, enhanced_code, failure_kind
from digest.errors import InputError
from digest.files import open_regular, read_error, read_regular

_MESSAGE_ID_LINE = re.compile(rb"(?im)^[ \t>]*message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^<>\s]+>)")
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[ -]?(reply|response)|out of (the )?office|auto:)",
    re.IGNORECASE,
)
# Headers of a report that carry the address it was sent to: our envelope sender.
_DELIVERED_TO = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
DIAGNOSTIC_CHARS = 300


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
    ids = [
        str(h.get("value", ""))
        for h in mail.get("headers", [])
        if isinstance(h, dict) and str(h.get("name", "")).lower() == "message-id"
    ]
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
            kind = failure_kind(status, diagnostic) if status else ("hard" if permanent else "soft")
            failures.append(
                Failure(
                    _address(str(r.get("emailAddress", ""))),
                    kind,
                    status,
                    (diagnostic or f"SES {bounce.get('bounceType')}/{bounce.get('bounceSubType')}")[
                        :DIAGNOSTIC_CHARS
                    ],
                )
            )
    elif kind_name == "Complaint":
        complaint = data.get("complaint") or {}
        feedback_type = str(complaint.get("complaintFeedbackType") or "abuse")
        if feedback_type == "not-spam":
            return Report("ses", ignored="SES complaint of type not-spam", **common)
        common["at"] = _iso_time(complaint.get("timestamp")) or common["at"]
        for r in complaint.get("complainedRecipients", []):
            failures.append(
                Failure(
                    _address(str(r.get("emailAddress", ""))),
                    "complaint",
                    "",
                    f"SES complaint, feedback-type {feedback_type}",
                )
            )
    else:
        return Report("ses", ignored=f"SES {kind_name} notification", **common)
    return Report("ses", tuple(failures), **common)


def _nonstandard(msg: EmailMessage, common: dict[str, Any]) -> Report:
    # Imported on first use: its detectors cost every process 30 ms, and only a bounce
    # import reaches here (docs/performance.md, Memory).
    from flufl.bounce import all_failures

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
            yield str(file), read_regular(file)
        return
    if not path.exists() and not path.is_symlink():
        raise InputError(f"{path}: no such file or folder")
    # A regular file only (a FIFO would block, a device never end): digest/files.py.
    with open_regular(path) as handle:
        try:
            data = handle.read(5)
            if data != b"From ":
                data += handle.read()
        except OSError as e:
            raise read_error(path, e) from e
    if data == b"From ":
        box_ = mailbox.mbox(path, create=False)
        for number, key in enumerate(box_.keys(), 1):
            yield f"{path}#{number}", box_.get_bytes(key)
        return
    yield str(path), data
