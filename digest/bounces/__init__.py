"""Bounces and complaints: read the reports, match them to readers, apply the policy.

Three ways in, one policy (``App.apply_bounce`` in :mod:`digest.app.feedback`):

- SMTP time: the send loop hands each final refusal to ``App.record_smtp_failure``.
- Reports that arrive later by mail, imported with :func:`import_bounces` from .eml files,
  folders of them, mbox files or Maildir folders: RFC 3464 delivery status notifications,
  ARF complaint reports (RFC 5965), Amazon SES notifications (JSON, as SNS mails them), and
  the non-standard bounce formats flufl.bounce knows.

The policy (docs/email.md rules 22-24, ``[bounces]`` in digest.toml):

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

Modules: :mod:`~digest.bounces.classify` (status codes and failure kinds),
:mod:`~digest.bounces.parse` (reading messages and reports) and
:mod:`~digest.bounces.policy` (applying the policy, importing reports).
"""

from __future__ import annotations

from digest.bounces.classify import enhanced_code, failure_kind
from digest.bounces.parse import (
    Failure,
    NotAReport,
    Report,
    fingerprint,
    iter_messages,
    parse_report,
)
from digest.bounces.policy import ImportReport, SmtpFailure, StatusChange, evidence, smtp_failure

__all__ = [
    "Failure",
    "ImportReport",
    "NotAReport",
    "Report",
    "SmtpFailure",
    "StatusChange",
    "enhanced_code",
    "evidence",
    "failure_kind",
    "fingerprint",
    "iter_messages",
    "parse_report",
    "smtp_failure",
]
