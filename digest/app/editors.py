"""Use cases for editors: add one (with a one-time link to set a password), list, remove,
set the password from the link, and log in (argon2id, with a lockout after repeated
failures). The password hash never leaves the core."""

from __future__ import annotations

import functools
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from digest.app.base import AppBase
from digest.errors import DigestError, InputError, NotFoundError
from digest.models import Editor
from digest.store import editors as store
from digest.store import transaction
from digest.tokens import TokenError
from digest.validate import normalise_email

if TYPE_CHECKING:
    from argon2 import PasswordHasher

LINK_HOURS = 48  # a set-password link works once, within this many hours
PASSWORD_MIN = 12
PASSWORD_MAX = 1_000
LOCK_AFTER = 5  # failed logins in a row
LOCK_MINUTES = 15
NAME_MAX = 100


@functools.cache
def _hasher() -> PasswordHasher:
    """argon2id with the library's (RFC 9106) defaults; imported when an editor logs in or
    is added, not by every process (docs/performance.md, Memory)."""
    from argon2 import PasswordHasher

    return PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when there is no such editor, so a login takes as long either way."""
    return _hasher().hash(secrets.token_hex(16))


class LoginRefused(DigestError):
    """Wrong address or password, or the account is locked for a while."""


@dataclass(frozen=True)
class EditorInvite:
    editor: Editor
    link: str
    expires_at: datetime


class Editors(AppBase):
    def add_editor(self, email: str, name: str = "") -> EditorInvite:
        """A new editor, and the one-time link to set their password."""
        address = normalise_email(email)
        name = " ".join(name.split())
        if len(name) > NAME_MAX:
            raise InputError(f"name: {len(name)} characters, the most is {NAME_MAX}")
        nonce = secrets.token_urlsafe(16)
        try:
            with transaction(self.db):
                editor = store.add_editor(self.db, address, name, nonce, self.now())
                # Signed inside the transaction: without a secret key, nothing is added.
                return self._invite(editor, nonce)
        except sqlite3.IntegrityError:
            raise InputError(
                f"{address} is already an editor (`digest editors link {address}` makes a new "
                "link to set the password)"
            ) from None

    def editor_link(self, email: str) -> EditorInvite:
        """A new one-time link for an editor (the previous one stops working)."""
        editor = self._editor_by_address(email)
        nonce = secrets.token_urlsafe(16)
        with transaction(self.db):
            store.set_nonce(self.db, editor.id, nonce)
            return self._invite(editor, nonce)

    def list_editors(self) -> list[Editor]:
        return store.list_editors(self.db)

    def remove_editor(self, email: str) -> Editor:
        editor = self._editor_by_address(email)
        with transaction(self.db):
            store.remove_editor(self.db, editor.id)
        return editor

    def get_editor(self, editor_id: int) -> Editor | None:
        return store.get_editor(self.db, editor_id)

    def editor_for_link(self, token: str) -> Editor:
        """The editor a set-password link is for; TokenError if forged, expired or used."""
        claim = self.links.read_editor_password(token, max_age=LINK_HOURS * 3600)
        editor = store.get_editor(self.db, claim.editor_id)
        if editor is None or not secrets.compare_digest(
            store.nonce_of(self.db, editor.id), claim.nonce
        ):
            raise TokenError("this link to set a password was already used")
        return editor

    def set_editor_password(self, token: str, password: str) -> Editor:
        """Set the password from a one-time link; the link stops working."""
        editor = self.editor_for_link(token)
        if len(password) < PASSWORD_MIN:
            raise InputError(f"password: at least {PASSWORD_MIN} characters, please")
        if len(password) > PASSWORD_MAX:
            raise InputError(f"password: at most {PASSWORD_MAX} characters")
        claim = self.links.read_editor_password(token, max_age=LINK_HOURS * 3600)
        with transaction(self.db):
            done = store.set_password(
                self.db,
                editor.id,
                expected_nonce=claim.nonce,
                new_nonce="",
                password_hash=_hasher().hash(password),
                now=self.now(),
            )
        if not done:
            raise TokenError("this link to set a password was already used")
        return editor

    def editor_login(self, email: str, password: str) -> Editor:
        """The editor, when the address and password match and the account is not locked.
        LoginRefused (one message for every failure) otherwise."""
        now = self.now()
        try:
            address = normalise_email(email)
        except InputError:
            address = ""
        record = store.login_record(self.db, address) if address else None
        if record is None:
            _verify(_dummy_hash(), password)
            raise LoginRefused("wrong address or password")
        editor, password_hash, _, locked_until = record
        if locked_until is not None and locked_until > now:
            raise LoginRefused(f"too many failed logins: try again after {locked_until:%H:%M} UTC")
        ok = bool(password_hash) and _verify(password_hash, password)
        new_hash = None
        if ok and _hasher().check_needs_rehash(password_hash):
            new_hash = _hasher().hash(password)
        with transaction(self.db):
            store.record_login(
                self.db,
                editor.id,
                ok=ok,
                now=now,
                lock_after=LOCK_AFTER,
                locked_until=now + timedelta(minutes=LOCK_MINUTES),
                new_hash=new_hash,
            )
        if not ok:
            raise LoginRefused("wrong address or password")
        return editor

    def _invite(self, editor: Editor, nonce: str) -> EditorInvite:
        return EditorInvite(
            editor,
            self.links.editor_password(editor.id, nonce),
            self.now() + timedelta(hours=LINK_HOURS),
        )

    def _editor_by_address(self, email: str) -> Editor:
        address = normalise_email(email)
        editor = store.find_editor(self.db, address)
        if editor is None:
            raise NotFoundError(f"no editor with address {address} (see `digest editors list`)")
        return editor


def _verify(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
