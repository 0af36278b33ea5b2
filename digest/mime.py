"""Message bytes: build once per content variant, personalise per recipient by substitution.

The stdlib ``email`` package builds the body (multipart/alternative, text/plain then
text/html, both utf-8) once per variant. The HTML is made 7-bit first (non-ASCII to ``&#N;``,
lines broken after ``>``), so it goes out as 7bit and placeholder tokens in it can never be
split by a quoted-printable soft line break. The text part is quoted-printable; its
placeholders sit on lines of their own, and the values put there are QP-encoded themselves.
The header block is written here, by hand, because the values in it are per-recipient and
because some Python versions glue RFC 2047 encoded-words together (``?==?``), which Yahoo
rejects. See /work/shared/EMAIL.md and PERF-NOTES.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from pathlib import Path

import dkim

from digest.config import Settings
from digest.errors import ConfigError, InputError

# Longest HTML line we emit. 998 is the hard limit; the headroom is for per-recipient values
# (URLs about 60 characters longer than their placeholders) substituted into a line.
HTML_LINE_LIMIT = 800
HEADER_SOFT_LIMIT = 78
# Headers the DKIM signature covers (EMAIL.md point 25). dkimpy's default leaves out
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
    "list-unsubscribe",
    "list-unsubscribe-post",
)

# C0 controls except tab/newline, DEL, and C1 controls (EMAIL.md point 12: U+0080-U+009F make
# Gmail clip even small mail). Removed from everything we render.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BAD_ADDRESS = re.compile(r'[\s<>(),;:"\[\]\\]')


def strip_controls(text: str) -> str:
    """Remove control characters that have no business in mail (keeps tab and newlines)."""
    return _CONTROLS.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def html_to_7bit(html: str, limit: int = HTML_LINE_LIMIT) -> str:
    """HTML that is pure ASCII with no line over ``limit`` characters, so it can be sent as
    7bit. Non-ASCII becomes numeric character references (valid in text and attributes; our
    CSS is ASCII). Long lines are broken after a ``>``, preferably between two tags; a run of
    text with no tag in it is broken at a space. A newline there is whitespace to HTML, like
    the space it stands next to."""
    ascii_html = strip_controls(html).encode("ascii", "xmlcharrefreplace").decode("ascii")
    out: list[str] = []
    for line in ascii_html.split("\n"):
        while len(line) > limit:
            cut = _break_at(line, limit)
            out.append(line[:cut])
            line = line[cut:]
        out.append(line)
    return "\n".join(out)


def _break_at(line: str, limit: int) -> int:
    between_tags = line.rfind("><", 0, limit)
    if between_tags > 0:
        return between_tags + 1
    after_tag = line.rfind(">", 0, limit)
    if after_tag > 0:
        return after_tag + 1
    # No tag ends in the window. Inside text content (the last '<' before the window was
    # closed by a '>'), a space is a safe place for the newline.
    last_open = line.rfind("<", 0, limit)
    if last_open == -1 or line.rfind(">", 0, last_open) != -1 or last_open == 0:
        space = line.rfind(" ", 1, limit)
        if space > 0 and "<" not in line[space:limit]:
            return space + 1
    raise InputError(
        f"an HTML line has {limit} characters with no tag end or space to break it at "
        f"(near {line[:60]!r}); shorten the URL or text"
    )


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


def check_address(address: str) -> str:
    """A plain ASCII addr-spec, or InputError: it goes into headers and the SMTP envelope."""
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or not address.isascii():
        raise InputError(f"not a usable email address: {address!r}")
    if _BAD_ADDRESS.search(address) or any(ord(c) < 32 for c in address):
        raise InputError(f"not a usable email address: {address!r}")
    return address


def format_address(name: str, address: str, header: str = "To") -> str:
    """``Name <addr>`` for a header: quoted when the name needs it, RFC 2047 encoded-words,
    folded, when it is not ASCII. Control characters and line breaks are removed from the
    name; it is cut at 200 characters."""
    address = check_address(address)
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
    would pass 78 characters, never inside a URL (EMAIL.md point 4)."""
    value = f"<{url}>"
    if mailto:
        target = mailto if mailto.startswith("mailto:") else f"mailto:{mailto}?subject=unsubscribe"
        sep = ", " if len("List-Unsubscribe: ") + len(value) + len(target) + 4 <= 78 else ",\r\n "
        value = f"{value}{sep}<{target}>"
    return value


def qp_line(value: str) -> bytes:
    """``value`` quoted-printable encoded as a line of its own, soft-broken at 76 with CRLF:
    what goes where a placeholder line sits in the text part."""
    encoded = binascii.b2a_qp(value.encode("utf-8"), quotetabs=True, istext=False, header=False)
    return encoded.replace(b"=\n", b"=\r\n")


def build_body(text: str, html: str, *, boundary: str | None = None) -> bytes:
    """MIME-Version, Content-Type and the multipart/alternative body, CRLF line endings:
    text/plain first (quoted-printable, utf-8), text/html last (7bit). ``html`` must already
    be 7-bit with short lines (see :func:`html_to_7bit`). The default boundary is derived
    from the content, so the same variant always gives the same bytes.

    The parts are framed here and the text is encoded with the standard library's C
    quoted-printable encoder (binascii.b2a_qp, lines of at most 76): building the same body
    with email.message.EmailMessage measured 1-2 ms per variant against 0.05 ms, and with
    hundreds of variants an edition that was most of the time to first send. Tests parse the
    result back with the email package and compare it with an EmailMessage build."""
    if boundary is None:
        digest = hashlib.sha256(f"{text}\0{html}".encode()).hexdigest()[:32]
        boundary = f"==digest-{digest}"
    if boundary in text or boundary in html:
        raise InputError("MIME boundary occurs in the content; pass another")
    try:
        html_bytes = html.encode("ascii")
    except UnicodeEncodeError as e:
        raise InputError("the HTML part must be 7-bit: pass it through html_to_7bit") from e
    # Like EmailMessage.set_content: each part's content ends with a line break.
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    plain = (lines if lines.endswith("\n") else lines + "\n").encode("utf-8")
    if not html_bytes.endswith(b"\n"):
        html_bytes += b"\n"
    text_part = binascii.b2a_qp(plain, istext=True).replace(b"\n", b"\r\n")
    html_part = html_bytes.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    delimiter = b"--" + boundary.encode("ascii")
    return b"".join(
        [
            b"MIME-Version: 1.0\r\n",
            b'Content-Type: multipart/alternative;\r\n boundary="',
            boundary.encode("ascii"),
            b'"\r\n\r\n',
            delimiter,
            b'\r\nContent-Type: text/plain; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            text_part,
            b"\r\n",  # the line break before a delimiter belongs to the delimiter
            delimiter,
            b'\r\nContent-Type: text/html; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: 7bit\r\n\r\n",
            html_part,
            b"\r\n",
            delimiter,
            b"--\r\n",
        ]
    )


@dataclass(frozen=True)
class MessageTemplate:
    """A whole message with placeholder tokens, pre-split at them, so personalising is one
    ``b"".join``: a single pass, and a value can never be mistaken for another placeholder
    (as chained ``bytes.replace`` calls could, e.g. a name containing a token)."""

    data: bytes
    chunks: tuple[bytes, ...]
    slots: tuple[str, ...]

    @classmethod
    def split(cls, data: bytes, tokens: Mapping[str, bytes]) -> MessageTemplate:
        names = {token: name for name, token in tokens.items()}
        pattern = re.compile(b"(" + b"|".join(re.escape(t) for t in tokens.values()) + b")")
        pieces = pattern.split(data)
        return cls(
            data=data,
            chunks=tuple(pieces[0::2]),
            slots=tuple(names[t] for t in pieces[1::2]),
        )

    def fill(self, values: Mapping[str, bytes]) -> bytes:
        out = [self.chunks[0]]
        for slot, chunk in zip(self.slots, self.chunks[1:], strict=True):
            out.append(values[slot])
            out.append(chunk)
        return b"".join(out)

    def count(self, slot: str) -> int:
        return self.slots.count(slot)


class DkimSigner:
    """Signs final message bytes (EMAIL.md point 25). The key file is read once."""

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
