"""What every message we send shares, digest or system mail: the From and Reply-To headers,
the envelope sender (VERP when configured) and the DKIM signature over the final bytes."""

from __future__ import annotations

from digest.config import Settings
from digest.mime import DkimSigner, envelope_sender, format_address, parse_sender
from digest.models import OutgoingMessage, Recipient
from digest.tokens import VERP_PLACEHOLDER, verp_address


class Envelope:
    """Built once per Renderer from the sender settings."""

    def __init__(self, settings: Settings, dkim: DkimSigner | None) -> None:
        self.settings = settings
        self.dkim = dkim
        self.from_header = format_address(*parse_sender(settings.sender.from_), header="From")
        self._verp = VERP_PLACEHOLDER in settings.sender.return_path
        # With VERP, mail that names no reader (a test copy) returns to the From address.
        self._sender = (
            parse_sender(settings.sender.from_)[1] if self._verp else envelope_sender(settings)
        )

    def sender_for(self, subscriber_id: int) -> str:
        """MAIL FROM: the return path, naming the reader (VERP) when it holds {token}."""
        if self._verp and subscriber_id:
            return verp_address(self.settings, subscriber_id)
        return self._sender

    def reply_to(self) -> list[bytes]:
        """The Reply-To header line, when one is configured."""
        if not self.settings.sender.reply_to:
            return []
        name, address = parse_sender(self.settings.sender.reply_to)
        return [f"Reply-To: {format_address(name, address, header='Reply-To')}\r\n".encode("ascii")]

    def outgoing(
        self, recipient: Recipient, data: bytes, message_id: str, subject: str
    ) -> OutgoingMessage:
        """The final message: DKIM-signed over exactly these bytes when configured."""
        if self.dkim is not None:
            data = self.dkim.sign(data)
        return OutgoingMessage(
            sender=self.sender_for(recipient.subscriber_id),
            recipient=recipient.email,
            data=data,
            message_id=message_id,
            subscriber_id=recipient.subscriber_id,
            subject=subject,
            smtputf8=recipient.smtputf8,
        )
