"""Header fields: encoded-words, folding, addresses, Message-IDs, List-Unsubscribe."""

from __future__ import annotations

import email
import email.header
import email.policy
import re

import pytest

from digest.errors import InputError
from digest.mime import (
    format_address,
    header_line,
    list_unsubscribe_value,
    make_message_id,
    normalise_message_id,
)


def _decode(line: bytes) -> str:
    """Parse a header line back the way a mail client would."""
    msg = email.message_from_bytes(line + b"\r\n", policy=email.policy.default)
    name = line.split(b":", 1)[0].decode()
    return str(msg[name])


def test_ascii_header_fits_or_folds_at_spaces() -> None:
    assert header_line("Subject", "Hello") == b"Subject: Hello\r\n"
    long = " ".join(["word"] * 40)
    line = header_line("Subject", long)
    assert all(len(x) <= 78 for x in line.split(b"\r\n"))
    assert _decode(line.rstrip(b"\r\n")) == long


def test_non_ascii_subject_is_rfc2047_with_whitespace_between_words() -> None:
    subject = "Legal Reader hebdo : 7 nouveaux articles sur « Médicaments » et la Sécurité " * 3
    line = header_line("Subject", subject.strip())
    assert line.isascii()
    assert b"?==?" not in line  # glued encoded-words: Yahoo rejects them
    assert all(len(x) <= 76 for x in line.split(b"\r\n"))
    assert line.count(b"=?utf-8?b?") > 1
    assert _decode(line.rstrip(b"\r\n")) == subject.strip()


def test_header_value_with_line_break_is_refused() -> None:
    with pytest.raises(InputError):
        header_line("Subject", "Hi\r\nBcc: victim@example.org")


@pytest.mark.parametrize(
    "name",
    ["", "Ana", 'Doe, "John"', "Zoë Ångström", "Ünïcödé " * 30, "x" * 150, "Evil\r\nBcc: a@b.c"],
)
def test_format_address_parses_back(name: str) -> None:
    value = format_address(name, "reader@example.org")
    assert value.isascii()
    assert "\r" not in value.replace("\r\n ", "")  # only folding, never a new header
    if not name.isascii():
        assert all(len(line) <= 78 for line in f"To: {value}".split("\r\n"))
    msg = email.message_from_bytes(f"To: {value}\r\n\r\n".encode(), policy=email.policy.default)
    [address] = msg["To"].addresses
    assert address.addr_spec == "reader@example.org"
    # Python's address parser keeps the folding space between adjacent encoded-words, which
    # RFC 2047 says to drop (its own output does not round-trip either), so the display name
    # is decoded with the RFC 2047 decoder.
    phrase = value.replace("\r\n ", " ").rsplit(" <", 1)[0] if name.strip() else ""
    decoded = str(email.header.make_header(email.header.decode_header(phrase)))
    expected = " ".join(name.replace("\r", " ").replace("\n", " ").split())[:200]
    if name.isascii():
        assert address.display_name == expected
    else:
        assert decoded == expected


@pytest.mark.parametrize(
    "bad",
    ["", "no-at-sign", "a@b", "a b@example.org", "a@example.org\r\nBcc: x@y.z", "zoë@example.org"],
)
def test_unusable_addresses_are_refused(bad: str) -> None:
    with pytest.raises(InputError):
        format_address("Name", bad)


def test_message_ids_are_unique_and_well_formed() -> None:
    ids = {make_message_id("news.example.com") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"<[0-9a-f]{16}\.\d+\.\d+@news\.example\.com>", i) for i in ids)
    assert normalise_message_id("abc@example.com") == "<abc@example.com>"
    for bad in ("no-at", "<a b@c>", "a@b\r\nX: y"):
        with pytest.raises(InputError):
            normalise_message_id(bad)


def test_list_unsubscribe_folds_only_between_uris() -> None:
    url = "https://news.example.com/u/1.abcdefghijklmnopqrstuv"
    assert list_unsubscribe_value(url) == f"<{url}>"
    both = list_unsubscribe_value(url, "unsubscribe@news.example.com")
    assert both.startswith(f"<{url}>,")
    assert both.endswith("<mailto:unsubscribe@news.example.com?subject=unsubscribe>")
    for line in f"List-Unsubscribe: {both}".split("\r\n"):
        assert len(line) <= 78
