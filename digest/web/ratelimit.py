"""Sign-up rate limits, per client IP and per address, kept in SQLite.

The counters live in the database (table ``web_rate_hits``) rather than in memory so they
hold across waitress threads, several ``digest serve`` processes and restarts. Sliding
windows: a hit counts for exactly one window after it happened. Buckets are keyed hashes, so
the table holds no IP or email address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlite_utils

from digest.config import WebSettings
from digest.store import transaction
from digest.store import web as store
from digest.web.security import keyed_hash

IP_WINDOW = timedelta(hours=1)
ADDRESS_WINDOW = timedelta(days=1)

Refusal = Literal["ip", "address"]


@dataclass(frozen=True)
class SignupLimiter:
    secret: str
    per_ip_per_hour: int
    per_address_per_day: int

    @classmethod
    def from_settings(cls, secret: str, web: WebSettings) -> SignupLimiter:
        return cls(secret, web.signup_limit_per_ip_per_hour, web.signup_limit_per_address_per_day)

    def take(
        self, db: sqlite_utils.Database, now: datetime, *, ip: str, address: str | None
    ) -> Refusal | None:
        """Count one sign-up from ``ip`` for ``address`` (None: the post had no usable
        address, only the IP counts). Returns which limit refused it, or None when allowed.
        A refused IP is not counted again, so waiting out the window always works; an IP hit
        is counted even when the address is refused, so spraying one address costs the
        sender's own budget too. A limit of 0 or less means no limit."""
        ip_bucket = keyed_hash(self.secret, "ip", ip)
        with transaction(db):
            store.prune_hits(db, now - max(IP_WINDOW, ADDRESS_WINDOW))
            if self.per_ip_per_hour > 0:
                if store.count_hits(db, ip_bucket, now - IP_WINDOW) >= self.per_ip_per_hour:
                    return "ip"
                store.add_hit(db, ip_bucket, now)
            if address is not None and self.per_address_per_day > 0:
                bucket = keyed_hash(self.secret, "address", address.lower())
                if store.count_hits(db, bucket, now - ADDRESS_WINDOW) >= self.per_address_per_day:
                    return "address"
                store.add_hit(db, bucket, now)
        return None
