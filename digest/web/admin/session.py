"""The desk's login session and login rate limit.

A session is a signed, timestamped cookie naming the editor ([editor id, login time]),
HttpOnly, SameSite=Lax, Secure when the site is served over https. It holds no secret and
no password; a forged one fails the signature, an old one the age check, and an editor
removed meanwhile is not found. CSRF tokens on the desk are bound to the editor as well as
to the form's path, so a token from one editor's page never works for another."""

from __future__ import annotations

import threading
import time
from collections import deque

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "digest_desk"
SESSION_SALT = "digest.desk.session"
SESSION_HOURS = 12


class Sessions:
    def __init__(self, secret: str, *, max_age: int = SESSION_HOURS * 3600) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SESSION_SALT)
        self.max_age = max_age

    def issue(self, editor_id: int) -> str:
        token: str = self._serializer.dumps([editor_id, int(time.time())])
        return token

    def read(self, cookie: str | None) -> int | None:
        """The editor id in a genuine, unexpired cookie; None otherwise."""
        if not cookie:
            return None
        try:
            payload = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is one too
            return None
        if (
            isinstance(payload, list)
            and len(payload) == 2
            and isinstance(payload[0], int)
            and not isinstance(payload[0], bool)
        ):
            return payload[0]
        return None


class LoginLimiter:
    """At most ``limit`` login attempts per client address in ``window`` seconds, in this
    process (the account lockout in the core holds across processes)."""

    def __init__(self, limit: int = 10, window: float = 600.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(client, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle clients
                self._hits = {k: v for k, v in self._hits.items() if v}
            return True
