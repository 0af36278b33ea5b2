"""The pure parts of the bounce policy: what an SMTP refusal means, and the one-line evidence
recorded with a status change. Applying the policy to a reader is the application core's
(``digest.app.feedback``), which owns the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from digest.bounces.classify import enhanced_code, failure_kind
from digest.bounces.parse import DIAGNOSTIC_CHARS
from digest.models import BounceKind, BounceRecord


@dataclass(frozen=True)
class SmtpFailure:
    """A final SMTP refusal, classified: the kind, the RFC 3463 code, and the reply text
    with its code in front."""

    kind: BounceKind
    status: str
    text: str


def smtp_failure(code: int, reply: str) -> SmtpFailure | None:
    """What a final refusal (a 5xx, or a 4xx after the last attempt) means; None for code 0
    (no SMTP reply at all: cannot connect, connection dropped), which is our side or the
    relay's, never the reader's mailbox."""
    if 200 <= code < 300:
        raise ValueError("an accepted message is not a failure")
    if code == 0:
        return None
    text = reply if reply[:3].isdigit() else f"{code} {reply}".strip()
    status = enhanced_code(text.split(" ", 2)[1] if " " in text else "")
    kind = BounceKind(failure_kind(status, text))
    if kind == BounceKind.HARD and 400 <= code < 500:
        kind = BounceKind.SOFT  # a 4.1.x is the relay saying "not now", not "no such mailbox"
    return SmtpFailure(kind, status, text[:DIAGNOSTIC_CHARS])


def evidence(record: BounceRecord) -> str:
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


def count(report: ImportReport, record: BounceRecord) -> None:
    """Add one applied record to the import's counts."""
    kind, origin = record.kind, record.origin
    if kind == "hard":
        report.hard += 1
    elif kind == "soft":
        report.soft += 1
    elif kind == "complaint":
        report.complaints += 1
    else:
        report.policy += 1
        report.policy_details.append((origin, evidence(record)))
