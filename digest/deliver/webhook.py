"""Posting one webhook event: the signature receivers check, and the POST itself.

Each request carries (names as in the README's webhooks section):

- ``Digest-Delivery``: the delivery id, the same on every retry, so a receiver that saw it
  already can answer 2xx and do nothing;
- ``Digest-Event``: the event name;
- ``Digest-Timestamp``: Unix seconds when this attempt was signed;
- ``Digest-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed with the webhook's
  secret, of ``<timestamp>.<body>``. Signing the timestamp lets a receiver refuse a replay
  of an old request.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import IO, Any

SIGNATURE_HEADER = "Digest-Signature"
TIMESTAMP_HEADER = "Digest-Timestamp"
DELIVERY_HEADER = "Digest-Delivery"
EVENT_HEADER = "Digest-Event"
TIMEOUT = 10.0


@dataclass(frozen=True)
class PostResult:
    status: int | None  # the HTTP status, None when no answer came
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does (in Python): recompute and compare in constant time."""
    if not timestamp.isdigit():
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), header)


def signed_headers(
    secret: str, timestamp: int, body: bytes, delivery_id: str, event: str
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "digest-webhooks/1",
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: event,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect is an answer other than 2xx: the POST is retried later, never turned into
    # a GET somewhere else.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT) -> PostResult:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        response: IO[bytes]
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(64 * 1024)
            return PostResult(getattr(response, "status", 200))
    except urllib.error.HTTPError as e:
        return PostResult(e.code, f"HTTP {e.code} {e.reason}")
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return PostResult(None, f"{type(e).__name__}: {reason}")
