"""DKIM signing of the final message bytes (docs/email.md rule 25)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import dkim

from digest.config import Settings
from digest.errors import ConfigError

# Headers the DKIM signature covers (docs/email.md rule 25). dkimpy's default leaves out
# List-Unsubscribe-Post, so they are named. Absent ones are signed as absent, which stops a
# relay or attacker from adding them later.
DKIM_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "reply-to",
    "list-id",
    "feedback-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
)


class DkimSigner:
    """Signs final message bytes (docs/email.md rule 25). The key file is read once."""

    def __init__(self, domain: str, selector: str, private_key: bytes) -> None:
        self.domain = domain.encode("ascii")
        self.selector = selector.encode("ascii")
        self.private_key = private_key
        try:
            dkim.parse_pem_private_key(private_key)
        except Exception as e:  # dkimpy raises several unrelated types for a bad key
            raise ConfigError(f"dkim.key_file: not a PEM RSA private key: {e}") from e

    @classmethod
    def from_settings(cls, settings: Settings) -> DkimSigner | None:
        if not settings.dkim.enabled:
            return None
        path = Path(settings.dkim.key_file)
        try:
            key = path.read_bytes()
        except OSError as e:
            raise ConfigError(f"dkim.key_file: cannot read {path}: {e}") from e
        return cls(settings.dkim.domain, settings.dkim.selector, key)

    def sign(self, data: bytes, headers: Sequence[str] = DKIM_HEADERS) -> bytes:
        """``data`` with a DKIM-Signature header prepended: rsa-sha256, relaxed/simple,
        no l= tag."""
        signature = dkim.sign(
            data,
            self.selector,
            self.domain,
            self.private_key,
            canonicalize=(b"relaxed", b"simple"),
            include_headers=[h.encode("ascii") for h in headers],
            length=False,
            linesep=b"\r\n",
        )
        return bytes(signature) + data
