"""Signed, opaque tokens for the links in our mail: unsubscribe, preferences, confirm and
view in browser (one reader's copy of one edition, :class:`PairSigner`).

The URLs around them are built in :mod:`digest.links`; this module only signs and reads.

One salt per purpose, so a token made for one link never works for another. Unsubscribe and
preferences tokens never expire (a reader may click a year-old digest) and carry the
subscriber id, in base 36, with a truncated HMAC-SHA256 signature: the whole URL stays near
55 characters, so the List-Unsubscribe header never folds. An unsubscribe link in a digest
also carries the edition's id (``<id>-<edition>.<signature>``), so the report can say which
edition a reader left from (docs/reports.md); tokens without it keep working. Confirm tokens
expire, and name one sign-up request (its id and the nonce stored with it, so the token is
bound to exactly the choices that request holds) plus a tag of the address (a hash prefix),
so a token stops working if the address changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, Signer, URLSafeTimedSerializer

from digest.config import Settings
from digest.errors import ConfigError, DigestError
from digest.models import MAX_ROW_ID

UNSUBSCRIBE_SALT = "unsubscribe"
PREFERENCES_SALT = "preferences"
# "View in browser": one reader's copy of one edition (docs/email.md rule 28).
VIEW_SALT = "view-in-browser"
# Tokens of the earlier [subscriber id, tag] form were made with "confirm"; a new salt
# makes them plainly invalid rather than misread.
CONFIRM_SALT = "confirm-request"
# 22 base64url characters = 132 bits of the 256-bit HMAC: unguessable, and short enough.
SIGNATURE_CHARS = 22
ADDRESS_TAG_CHARS = 12
NONCE_CHARS = 22  # secrets.token_urlsafe(16)
_ID_RE = re.compile(r"[0-9a-z]{1,13}")
# A subscriber id, then optionally "-" and the edition's id: both base 36.
_CLAIM_RE = re.compile(r"([0-9a-z]{1,13})(?:-([0-9a-z]{1,13}))?")
_HEX_ID_RE = re.compile(r"[0-9a-f]{1,16}")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class TokenError(DigestError):
    """A link token is malformed, forged, or made with another secret key."""


class ExpiredTokenError(TokenError):
    """A confirm token was genuine but is older than its max_age."""


@dataclass(frozen=True)
class LinkClaim:
    """What a genuine unsubscribe (or preferences) token says: whose link it is, and the
    edition whose mail carried it (None: a token made without one, as before issue 15)."""

    subscriber_id: int
    edition_id: int | None = None


@dataclass(frozen=True)
class ConfirmClaim:
    """What a valid confirm token says: which sign-up request, its nonce, and the tag of
    the address it was sent to."""

    request_id: int
    nonce: str
    address_tag: str

    def nonce_matches(self, nonce: str) -> bool:
        """True when ``nonce`` is the one stored with the request."""
        return hmac.compare_digest(self.nonce.encode("utf-8"), nonce.encode("utf-8"))

    def matches(self, email: str) -> bool:
        """True when ``email`` is the address the token was made for."""
        return hmac.compare_digest(self.address_tag, address_tag(email))


def require_secret(settings: Settings) -> str:
    _check_secret(settings.secret_key)
    return settings.secret_key


def _check_secret(secret: str) -> None:
    if not secret:
        raise ConfigError(
            "secret_key is not set: links in mail cannot be signed",
            hint="run `digest init` to write one to digest.toml, or set DIGEST_SECRET_KEY",
        )


def address_tag(email: str) -> str:
    """A short hash prefix of the normalised address, for confirm tokens: not the store's
    full-length ``email_hash``, and not meant to find anyone by."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:ADDRESS_TAG_CHARS]


class IdSigner:
    """Signs subscriber ids for one purpose. Built once per run: the send loop signs two links
    per recipient, so the derived key is computed once instead of on every call (itsdangerous'
    Signer derives it per call). Tokens are exactly what ``Signer(secret, salt,
    digest_method=sha256).sign(base36(id))`` gives, with the signature truncated."""

    def __init__(self, secret: str, salt: str) -> None:
        _check_secret(secret)
        self._signer = Signer(secret, salt=salt, digest_method=hashlib.sha256)
        self._key = self._signer.derive_key()

    def signature(self, value: bytes) -> str:
        # hmac.digest: OpenSSL's one-shot HMAC, the same bytes as hmac.new(...).digest() at
        # a fraction of the cost; the send signs three links per recipient.
        mac = hmac.digest(self._key, value, "sha256")
        return _b64(mac)[:SIGNATURE_CHARS]

    def sign(self, subscriber_id: int, edition_id: int | None = None) -> str:
        if subscriber_id < 0 or (edition_id is not None and edition_id < 0):
            raise ValueError(f"ids must not be negative: {subscriber_id}, {edition_id}")
        value = _base36(subscriber_id)
        if edition_id is not None:
            value = f"{value}-{_base36(edition_id)}"
        return f"{value}.{self.signature(value.encode('ascii'))}"

    def read(self, token: str) -> int:
        return self.read_claim(token).subscriber_id

    def read_claim(self, token: str) -> LinkClaim:
        """The subscriber (and edition, when the token names one); TokenError if forged."""
        value, sep, signature = token.partition(".")
        match = _CLAIM_RE.fullmatch(value)
        if not sep or match is None or len(signature) != SIGNATURE_CHARS:
            raise TokenError("malformed link token")
        expected = self.signature(value.encode("ascii"))
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
            raise TokenError("link token signature does not match")
        subscriber_id = int(match[1], 36)
        edition_id = int(match[2], 36) if match[2] else None
        # 13 base-36 digits reach past SQLite's integers
        if subscriber_id > MAX_ROW_ID or (edition_id or 0) > MAX_ROW_ID:
            raise TokenError("link token names no possible subscriber")
        return LinkClaim(subscriber_id, edition_id)


@dataclass(frozen=True)
class ViewClaim:
    """What a genuine view-in-browser token names: one reader's copy of one edition."""

    subscriber_id: int
    edition_id: int


class PairSigner:
    """Signs (subscriber id, edition id) for the view-in-browser link: both ids in hex and a
    128-bit keyed BLAKE2s tag (22 base64url characters), so the link never expires and stays
    short. BLAKE2s with a key is a MAC by design and about three times cheaper than HMAC-SHA256
    here: the send signs one such link per recipient (docs/performance.md, Rendering). The key
    is derived once, from the secret and a salt of its own."""

    def __init__(self, secret: str, salt: str = VIEW_SALT) -> None:
        _check_secret(secret)
        self._key = Signer(secret, salt=salt, digest_method=hashlib.sha256).derive_key()

    def _tag(self, value: str) -> str:
        mac = hashlib.blake2s(value.encode("ascii"), key=self._key, digest_size=16).digest()
        return _b64(mac)

    def sign(self, subscriber_id: int, edition_id: int) -> str:
        if subscriber_id < 0 or edition_id < 0:
            raise ValueError(f"ids must not be negative: {subscriber_id}, {edition_id}")
        value = f"{subscriber_id:x}.{edition_id:x}"
        return f"{value}.{self._tag(value)}"

    def read(self, token: str) -> ViewClaim:
        subscriber, edition, signature = [*token.split("."), "", ""][:3]
        if (
            token.count(".") != 2
            or not _HEX_ID_RE.fullmatch(subscriber)
            or not _HEX_ID_RE.fullmatch(edition)
            or len(signature) != SIGNATURE_CHARS
        ):
            raise TokenError("malformed link token")
        expected = self._tag(f"{subscriber}.{edition}")
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
            raise TokenError("link token signature does not match")
        claim = ViewClaim(int(subscriber, 16), int(edition, 16))
        if max(claim.subscriber_id, claim.edition_id) > MAX_ROW_ID:
            raise TokenError("link token names no possible edition")
        return claim


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _base36(n: int) -> str:
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_DIGITS[r])
    return "".join(reversed(out))


def make_unsubscribe_token(secret: str, subscriber_id: int) -> str:
    return IdSigner(secret, UNSUBSCRIBE_SALT).sign(subscriber_id)


def read_unsubscribe_token(secret: str, token: str) -> int:
    """The subscriber id in a token from :func:`make_unsubscribe_token`; TokenError if forged."""
    return IdSigner(secret, UNSUBSCRIBE_SALT).read(token)


def make_preferences_token(secret: str, subscriber_id: int) -> str:
    return IdSigner(secret, PREFERENCES_SALT).sign(subscriber_id)


def read_preferences_token(secret: str, token: str) -> int:
    return IdSigner(secret, PREFERENCES_SALT).read(token)


class ConfirmSigner:
    """Makes and reads confirm tokens: the request id, its nonce and the address tag,
    timestamped."""

    def __init__(self, secret: str) -> None:
        _check_secret(secret)
        self._serializer = URLSafeTimedSerializer(secret, salt=CONFIRM_SALT)

    def sign(self, request_id: int, nonce: str, email: str) -> str:
        token: str = self._serializer.dumps([request_id, nonce, address_tag(email)])
        return token

    def read(self, token: str, *, max_age: int) -> ConfirmClaim:
        """Check signature and age (seconds). ExpiredTokenError when genuine but too old, so
        the page can offer to send a new link; TokenError otherwise. Check
        ``claim.matches(email)`` against the subscriber's current address."""
        return _confirm_claim(self._serializer, token, max_age)


def make_confirm_token(secret: str, request_id: int, nonce: str, email: str) -> str:
    return ConfirmSigner(secret).sign(request_id, nonce, email)


def read_confirm_token(secret: str, token: str, *, max_age: int) -> ConfirmClaim:
    """See :meth:`ConfirmSigner.read`."""
    return ConfirmSigner(secret).read(token, max_age=max_age)


def _confirm_claim(serializer: URLSafeTimedSerializer, token: str, max_age: int) -> ConfirmClaim:
    try:
        payload: Any = serializer.loads(token, max_age=max_age)
    except SignatureExpired as e:
        raise ExpiredTokenError("confirmation link has expired") from e
    except BadSignature as e:
        raise TokenError("confirmation link is not valid") from e
    if (
        not isinstance(payload, list)
        or len(payload) != 3
        or not isinstance(payload[0], int)
        or isinstance(payload[0], bool)
        or not 0 < payload[0] <= MAX_ROW_ID
        or not isinstance(payload[1], str)
        or not isinstance(payload[2], str)
    ):
        raise TokenError("confirmation link is not valid")
    return ConfirmClaim(request_id=payload[0], nonce=payload[1], address_tag=payload[2])


# -- editors: a one-time link to set a password ---------------------------------------------

EDITOR_PASSWORD_SALT = "editor-password"


@dataclass(frozen=True)
class EditorClaim:
    """What a genuine set-password link says: which editor, and the one-time nonce that
    must still be theirs (setting the password replaces it, so the link works once)."""

    editor_id: int
    nonce: str


class EditorLinkSigner:
    """Signed, timestamped set-password tokens: [editor id, nonce]."""

    def __init__(self, secret: str) -> None:
        _check_secret(secret)
        self._serializer = URLSafeTimedSerializer(secret, salt=EDITOR_PASSWORD_SALT)

    def sign(self, editor_id: int, nonce: str) -> str:
        token: str = self._serializer.dumps([editor_id, nonce])
        return token

    def read(self, token: str, *, max_age: int) -> EditorClaim:
        try:
            payload: Any = self._serializer.loads(token, max_age=max_age)
        except SignatureExpired as e:
            raise ExpiredTokenError("this link to set a password has expired") from e
        except BadSignature as e:
            raise TokenError("this link to set a password is not valid") from e
        if (
            not isinstance(payload, list)
            or len(payload) != 2
            or not isinstance(payload[0], int)
            or isinstance(payload[0], bool)
            or not isinstance(payload[1], str)
        ):
            raise TokenError("this link to set a password is not valid")
        return EditorClaim(editor_id=payload[0], nonce=payload[1])


# -- VERP: the envelope sender names the reader, so a bounce can be matched to them ----------

VERP_PLACEHOLDER = "{token}"
VERP_SALT = b"digest-verp"


def verp_address(settings: Settings, subscriber_id: int) -> str:
    """The envelope sender for one reader when ``[sender] return_path`` holds ``{token}``
    (e.g. ``bounces+{token}@news.example.com``), else return_path unchanged. The token is
    the subscriber id in base 36 and a 16-hex-digit HMAC of it: lower case only, so it
    survives relays that fold the local part's case, and a forged bounce cannot name a
    reader it was not sent to."""
    template = settings.sender.return_path
    if VERP_PLACEHOLDER not in template:
        return template
    return template.replace(VERP_PLACEHOLDER, _verp_token(settings.secret_key, subscriber_id))


def _verp_token(secret: str, subscriber_id: int) -> str:
    value = _base36(subscriber_id)
    mac = hmac.new(secret.encode("utf-8") + VERP_SALT, value.encode("ascii"), hashlib.sha256)
    return f"{value}-{mac.hexdigest()[:16]}"


def read_verp(settings: Settings, addresses: Iterable[str]) -> int | None:
    """The subscriber id in the first of ``addresses`` that is a genuine VERP address made
    by :func:`verp_address`, or None (also when VERP is not configured)."""
    template = settings.sender.return_path
    if VERP_PLACEHOLDER not in template or not settings.secret_key:
        return None
    before, _, after = template.partition(VERP_PLACEHOLDER)
    pattern = re.compile(
        re.escape(before) + r"([0-9a-z]{1,13})-([0-9a-f]{16})" + re.escape(after), re.IGNORECASE
    )
    for address in addresses:
        found = pattern.search(address)
        if found is None:
            continue
        subscriber_id = int(found.group(1).lower(), 36)
        expected = _verp_token(settings.secret_key, subscriber_id)
        if hmac.compare_digest(expected, f"{found.group(1)}-{found.group(2)}".lower()):
            return subscriber_id
    return None


# -- engagement tracking: click redirects and the open image (docs/tracking.md) -------------

CLICK_SALT = "track-click"
OPEN_SALT = "track-open"
TRACK_READER_SALT = "track-reader"
_B64_RE = re.compile(r"[A-Za-z0-9_-]{1,400}")
_MAX_ARTICLE_ID = 256


@dataclass(frozen=True)
class ClickClaim:
    """What a genuine click token names. Not the target URL: the redirect looks that up from
    the article id, so no token can send a reader anywhere we did not link to."""

    edition_id: int
    category_id: int
    article_id: str


class _Mac:
    """Truncated HMAC-SHA256 under a key derived as itsdangerous' Signer derives it."""

    def __init__(self, secret: str, salt: str) -> None:
        _check_secret(secret)
        self._key = Signer(secret, salt=salt, digest_method=hashlib.sha256).derive_key()

    def tag(self, value: str) -> str:
        return _b64(hmac.new(self._key, value.encode("ascii"), hashlib.sha256).digest())[
            :SIGNATURE_CHARS
        ]

    def check(self, value: str, signature: str) -> None:
        if not hmac.compare_digest(self.tag(value).encode("ascii"), signature.encode("ascii")):
            raise TokenError("tracking token signature does not match")


class TrackSigner:
    """Click, open and reader tokens, one salt each. A click token names edition, category
    and article; an open token the edition. Neither names a reader: in per-reader mode the
    reader part is a separate token (signed together with the edition, so it cannot be moved
    to another edition's links) that is the same in every link of one message, so it is one
    placeholder to fill per recipient (docs/performance.md, Rendering)."""

    def __init__(self, secret: str) -> None:
        self._click = _Mac(secret, CLICK_SALT)
        self._open = _Mac(secret, OPEN_SALT)
        self._reader = _Mac(secret, TRACK_READER_SALT)

    def click(self, edition_id: int, category_id: int, article_id: str) -> str:
        value = f"{_base36(edition_id)}.{_base36(category_id)}.{_b64(article_id.encode())}"
        return f"{value}.{self._click.tag(value)}"

    def read_click(self, token: str) -> ClickClaim:
        parts = token.split(".")
        if len(parts) != 4 or not _B64_RE.fullmatch(parts[2]):
            raise TokenError("malformed click token")
        edition_id, category_id = _read_id(parts[0]), _read_id(parts[1])
        self._click.check(".".join(parts[:3]), parts[3])
        try:
            article_id = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
            text = article_id.decode("utf-8")
        except (ValueError, UnicodeDecodeError) as e:
            raise TokenError("malformed click token") from e
        if not 0 < len(text) <= _MAX_ARTICLE_ID:
            raise TokenError("malformed click token")
        return ClickClaim(edition_id, category_id, text)

    def open(self, edition_id: int) -> str:
        value = _base36(edition_id)
        return f"{value}.{self._open.tag(value)}"

    def read_open(self, token: str) -> int:
        value, sep, signature = token.partition(".")
        if not sep:
            raise TokenError("malformed open token")
        edition_id = _read_id(value)
        self._open.check(value, signature)
        return edition_id

    def reader(self, edition_id: int, subscriber_id: int) -> str:
        value = _base36(subscriber_id)
        return f"{value}.{self._reader.tag(f'{_base36(edition_id)}.{value}')}"

    def read_reader(self, edition_id: int, token: str) -> int:
        """The subscriber id in a reader part made for ``edition_id``."""
        value, sep, signature = token.partition(".")
        if not sep:
            raise TokenError("malformed reader token")
        subscriber_id = _read_id(value)
        self._reader.check(f"{_base36(edition_id)}.{value}", signature)
        return subscriber_id


def _read_id(value: str) -> int:
    if not _ID_RE.fullmatch(value):
        raise TokenError("malformed tracking token")
    number = int(value, 36)
    if not 0 < number <= MAX_ROW_ID:
        raise TokenError("tracking token names no possible row")
    return number
