"""Short plain-text notices to the editors (an edition to review, an edition held): the
same From, envelope and DKIM as every message we send (digest.render.envelope)."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from digest.mime import format_address, strip_controls
from digest.models import OutgoingMessage, Recipient
from digest.render.envelope import Envelope


def editor_notice(
    envelope: Envelope,
    to: Recipient,
    subject: str,
    text: str,
    *,
    message_id: str,
    date: datetime,
) -> OutgoingMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = envelope.from_header
    message["To"] = format_address(to.name, to.email, header="To")
    message["Subject"] = " ".join(strip_controls(subject).split())
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    return envelope.outgoing(to, message.as_bytes(), message_id, subject)
