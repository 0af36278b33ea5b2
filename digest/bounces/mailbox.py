"""A bounce mailbox over IMAP (imaplib): list what is waiting, fetch it, move it away.

The core (App.fetch_bounces) records each message before it moves it, and the import is
idempotent by the message's fingerprint, so a process killed between reading and recording,
or between recording and moving, loses nothing and applies nothing twice: the message is
still in the folder, is read again, and is recognised as already imported.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from digest.errors import ConfigError, DeliveryError

if TYPE_CHECKING:
    # imaplib is imported when a mailbox opens: most processes never read one
    # (docs/performance.md, Memory).
    import imaplib

_DEFAULT_PORTS = {"imap": 143, "imaps": 993}


@dataclass(frozen=True)
class ImapUrl:
    scheme: str  # imap (plain, for loopback) or imaps
    host: str
    port: int
    user: str
    folder: str

    def __str__(self) -> str:
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}/{self.folder}"


def parse_imap_url(url: str, key: str = "bounces.imap_url") -> ImapUrl:
    """``imaps://user@host[:port]/FOLDER`` (FOLDER defaults to INBOX)."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or not parts.username:
        raise ConfigError(
            f"{key}: expected imaps://user@host/FOLDER (or imap:// on loopback), got {url!r}"
        )
    if parts.password:
        raise ConfigError(f"{key}: no password in the URL; name a variable in imap_password_env")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ConfigError(f"{key}: bad port in {url!r}") from None
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return ImapUrl(parts.scheme, parts.hostname, port, unquote(parts.username), folder)


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Mailbox:
    """One IMAP session on the bounce folder. Use as a context manager."""

    def __init__(self, url: ImapUrl, password: str, *, timeout: float = 30.0) -> None:
        self.url = url
        self.password = password
        self.timeout = timeout
        self._conn: imaplib.IMAP4 | None = None
        self._folders: set[str] = set()

    @classmethod
    def from_settings(cls, url: str, password_env: str) -> Mailbox:
        parsed = parse_imap_url(url)
        password = os.environ.get(password_env, "") if password_env else ""
        if not password:
            raise ConfigError(
                f"bounces.imap_password_env: the variable {password_env or '(not set)'!r} "
                "holds no password"
            )
        return cls(parsed, password)

    def __enter__(self) -> Mailbox:
        import imaplib

        url = self.url
        try:
            if url.scheme == "imaps":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(url.host, url.port, timeout=self.timeout)
            else:
                conn = imaplib.IMAP4(url.host, url.port, timeout=self.timeout)
            conn.login(url.user, self.password)
            typ, data = conn.select(_quote(url.folder))
            if typ != "OK":
                raise DeliveryError(f"{url}: cannot open the folder: {_text(data)}")
        except imaplib.IMAP4.error as e:
            raise DeliveryError(f"{url}: {e}") from e
        except OSError as e:
            raise DeliveryError(f"{url}: cannot connect: {e}") from e
        self._conn = conn
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(conn.error, OSError):
                conn.logout()

    @property
    def conn(self) -> imaplib.IMAP4:
        if self._conn is None:
            raise RuntimeError("the mailbox is not open")
        return self._conn

    def uids(self) -> list[str]:
        """Every message in the folder, oldest first: what is here is not processed yet."""
        typ, data = self.conn.uid("SEARCH", "ALL")
        self._check(typ, data, "SEARCH")
        return [u.decode() for u in (data[0] or b"").split()]

    def fetch(self, uid: str) -> bytes:
        """The whole message, without setting \\Seen."""
        typ, data = self.conn.uid("FETCH", uid, "(BODY.PEEK[])")
        self._check(typ, data, f"FETCH {uid}")
        for item in data:
            if isinstance(item, tuple):
                return bytes(item[1])
        raise DeliveryError(f"{self.url}: message {uid} has gone")

    def move(self, uid: str, folder: str) -> None:
        """Move one message to ``folder`` (created when missing): UID MOVE (RFC 6851),
        else copy, flag deleted and expunge."""
        conn = self.conn
        if folder not in self._folders:
            conn.create(_quote(folder))  # NO when it exists: fine
            self._folders.add(folder)
        if "MOVE" in conn.capabilities:
            typ, data = conn.uid("MOVE", uid, _quote(folder))
            self._check(typ, data, f"MOVE {uid}")
            return
        typ, data = conn.uid("COPY", uid, _quote(folder))
        self._check(typ, data, f"COPY {uid}")
        conn.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
        conn.expunge()

    def _check(self, typ: str, data: Sequence[object], what: str) -> None:
        if typ != "OK":
            raise DeliveryError(f"{self.url}: {what} failed: {_text(data)}")


def _text(data: Sequence[object]) -> str:
    parts = [d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d) for d in data]
    return re.sub(r"\s+", " ", " ".join(parts)).strip()
