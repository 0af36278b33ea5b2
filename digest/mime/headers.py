"""Header fields written by hand: encoded-words, addresses, Message-IDs, List-* values.

The header block is written here, not by the stdlib ``email`` package, because the values in
it are per-recipient and because some Python versions glue RFC 2047 encoded-words together
(``?==?``), which Yahoo rejects.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import secrets
import time
from collections.abc import Sequence
from email.utils import formataddr, parseaddr

from digest.config import Settings
from digest.errors import ConfigError, InputError
from digest.mime.body import strip_controls

HEADER_SOFT_LIMIT = 78
_BAD_ADDRESS = re.compile(r'[\s<>(),;:"\[\]\\]')


def encoded_words(text: str, first_line_used: int) -> str:
    """RFC 2047 base64 encoded-words for ``text``, folded so no line passes 76 characters.
    Adjacent words are separated by CRLF + space (whitespace between encoded-words is ignored
    when decoding, so the split points do not change the text)."""
    words: list[str] = []
    budget = 76 - first_line_used
    chunk = b""
    for ch in text:
        b = ch.encode("utf-8")
        # base64 of n bytes is 4*ceil(n/3) characters, plus 12 for "=?utf-8?b?" and "?=".
        if chunk and 12 + 4 * -(-(len(chunk) + len(b)) // 3) > budget:
            words.append(_b_word(chunk))
            chunk = b""
            budget = 75  # continuation lines start with one space
        chunk += b
    if chunk or not words:
        words.append(_b_word(chunk))
    return "\r\n ".join(words)


def _b_word(data: bytes) -> str:
    return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="


def header_line(name: str, value: str) -> bytes:
    """One header field with its CRLF. Non-ASCII values become encoded-words; long ASCII
    values are folded at spaces. CR and LF in a value are an error, never passed on."""
    if "\r" in value or "\n" in value:
        raise InputError(f"{name} header value contains a line break")
    prefix = f"{name}: "
    if not value.isascii():
        return f"{prefix}{encoded_words(value, len(prefix))}\r\n".encode("ascii")
    return f"{prefix}{_fold_ascii(value, len(prefix))}\r\n".encode("ascii")


def _fold_ascii(value: str, used: int) -> str:
    if used + len(value) <= HEADER_SOFT_LIMIT:
        return value
    lines: list[str] = []
    current = ""
    for word in value.split(" "):
        if current and used + len(current) + 1 + len(word) > HEADER_SOFT_LIMIT:
            lines.append(current)
            current, used = word, 1
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    if any(len(line) > 990 for line in lines):
        raise InputError("header value has a word too long to fold")
    return "\r\n ".join(lines)


def check_address(address: str, *, utf8: bool = False) -> str:
    """A plain addr-spec, or InputError: it goes into headers and the SMTP envelope. ASCII,
    except the local part with ``utf8`` (SMTPUTF8, RFC 6531/6532); the domain is always in
    A-labels (digest.validate.envelope_address)."""
    address = address.strip()
    local, at, domain = address.rpartition("@")
    ascii_enough = domain.isascii() and (utf8 or local.isascii())
    if not at or not local or "." not in domain or not ascii_enough:
        raise InputError(f"not a usable email address: {address!r}")
    if _BAD_ADDRESS.search(address) or any(ord(c) < 32 for c in address):
        raise InputError(f"not a usable email address: {address!r}")
    return address


def format_address(name: str, address: str, header: str = "To", *, utf8: bool = False) -> str:
    """``Name <addr>`` for a header: quoted when the name needs it, RFC 2047 encoded-words,
    folded, when it is not ASCII. Control characters and line breaks are removed from the
    name; it is cut at 200 characters. With ``utf8`` the address may have a non-ASCII local
    part, written as UTF-8 (RFC 6532: only for a message sent with SMTPUTF8)."""
    address = check_address(address, utf8=utf8)
    name = " ".join(strip_controls(name).split())[:200]
    if not name:
        return address
    if name.isascii():
        # Plain (quoted when needed) even past 78 characters: at most about 230, far under
        # 998, and base64-encoded ASCII names score as spam.
        return formataddr((name, address))
    used = len(header) + 2
    words = encoded_words(name, used)
    last_line = words.rsplit("\n", 1)[-1]
    separator = " " if len(last_line) + len(address) + 3 <= HEADER_SOFT_LIMIT else "\r\n "
    return f"{words}{separator}<{address}>"


def parse_sender(value: str) -> tuple[str, str]:
    """(display name, address) from settings.sender.from_."""
    name, address = parseaddr(value)
    if not address:
        raise ConfigError(f"sender.from: no email address in {value!r}")
    try:
        check_address(address)
    except InputError as e:
        raise ConfigError(f"sender.from: {e}") from e
    return name, address


def sending_domain(settings: Settings) -> str:
    """The domain after the @ in sender.from: the right side of our Message-IDs."""
    return parse_sender(settings.sender.from_)[1].rpartition("@")[2].lower()


def envelope_sender(settings: Settings) -> str:
    """MAIL FROM: sender.return_path, else the From address."""
    if settings.sender.return_path:
        return check_address(settings.sender.return_path)
    return parse_sender(settings.sender.from_)[1]


def list_id(settings: Settings, frequency: str) -> str:
    """``<label>`` for List-Id: sender.list_id, else ``<frequency>.<sending domain>``."""
    label = settings.sender.list_id or f"{frequency}.{sending_domain(settings)}"
    return f"<{label.strip('<>')}>"


def list_id_line(settings: Settings, frequency: str) -> bytes:
    """The List-Id header with its description (RFC 2919 section 3):
    ``"Legal Reader weekly digest" <weekly.news.example.com>``; a non-ASCII description as
    encoded-words, the label always plain."""
    label = list_id(settings, frequency)
    description = " ".join(strip_controls(f"{settings.site.name} {frequency} digest").split())
    prefix = "List-Id: "
    if description.isascii():
        phrase = '"' + description.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        phrase = encoded_words(description, len(prefix))
    last = phrase.rsplit("\n", 1)[-1]
    separator = " " if len(last) + len(label) + 1 <= HEADER_SOFT_LIMIT else "\r\n "
    return f"{prefix}{phrase}{separator}{label}\r\n".encode("ascii")


def feedback_id(
    settings: Settings, frequency: str, slugs: Sequence[str], edition_id: int | None
) -> str:
    """Gmail's Feedback-ID, ``campaign:category-set:edition:sender`` (docs/email.md rule 5):
    the same for every message of one variant of one edition. A long category set becomes a
    short hash so the header stays one line."""
    categories = ".".join(sorted(slugs)) or "none"
    if len(categories) > 40 or not re.fullmatch(r"[A-Za-z0-9.-]+", categories):
        categories = "c" + hashlib.sha256(categories.encode()).hexdigest()[:12]
    edition = str(edition_id) if edition_id is not None else "preview"
    return f"{frequency}-digest:{categories}:{edition}:{sending_domain(settings)}"


# A random prefix drawn once per process plus a counter: unique across every message ever
# sent (a repeat gets a 421 4.7.28 from Gmail) without an os.urandom call per message, which
# measured 0.25 ms each on this machine, more than personalising the whole message.
_MESSAGE_ID_PREFIX = secrets.token_hex(8)
_message_counter = itertools.count(1)


def make_message_id(domain: str) -> str:
    """``<prefix.counter.time@domain>``: 64 random bits per process, a per-process counter and
    the time, so no two messages ever share one."""
    if not domain or _BAD_ADDRESS.search(domain) or "@" in domain:
        raise InputError(f"not a usable Message-ID domain: {domain!r}")
    return f"<{_MESSAGE_ID_PREFIX}.{next(_message_counter)}.{int(time.time())}@{domain}>"


class DeliveryMessageIds:
    """Message-IDs fixed by the delivery: the same edition and reader always give the same
    id, so a copy sent again after a crash or a takeover carries the Message-ID of the first
    and a receiving system can drop the duplicate. ``<tag.edition@domain>``, where the tag is
    an HMAC of the edition (its id and creation time, so a rebuilt database does not repeat
    ids) and the reader: opaque, and unique across every message this install sends."""

    def __init__(self, secret: str, domain: str, edition_id: int, edition_created: str) -> None:
        if not domain or _BAD_ADDRESS.search(domain) or "@" in domain:
            raise InputError(f"not a usable Message-ID domain: {domain!r}")
        self._key = hmac.new(
            secret.encode("utf-8"), f"message-id:{edition_id}:{edition_created}".encode(), "sha256"
        ).digest()
        self._suffix = f".{edition_id}@{domain}>"

    def __call__(self, subscriber_id: int) -> str:
        tag = hmac.new(self._key, str(subscriber_id).encode("ascii"), "sha256").hexdigest()
        return f"<{tag[:24]}{self._suffix}"


def normalise_message_id(message_id: str) -> str:
    mid = message_id.strip()
    if not mid.startswith("<"):
        mid = f"<{mid}>"
    inner = mid[1:-1]
    local, at, domain = inner.rpartition("@")
    if not mid.endswith(">") or not at or not local or not domain or _BAD_ADDRESS.search(inner):
        raise InputError(f"not a usable Message-ID: {message_id!r}")
    return mid


def list_unsubscribe_value(url: str, mailto: str = "") -> str:
    """``<https://...>`` (plus ``, <mailto:...>``), folded before the mailto when the line
    would pass 78 characters, never inside a URL (docs/email.md rule 4)."""
    value = f"<{url}>"
    if mailto:
        target = mailto if mailto.startswith("mailto:") else f"mailto:{mailto}?subject=unsubscribe"
        sep = ", " if len("List-Unsubscribe: ") + len(value) + len(target) + 4 <= 78 else ",\r\n "
        value = f"{value}{sep}<{target}>"
    return value
