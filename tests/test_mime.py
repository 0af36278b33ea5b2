"""Header encoding, addresses, 7-bit HTML, quoted-printable values and DKIM signing."""

from __future__ import annotations

import email
import email.header
import email.policy
import quopri
import re

import pytest

from digest.errors import InputError
from digest.mime import (
    MessageTemplate,
    build_body,
    format_address,
    header_line,
    html_to_7bit,
    list_unsubscribe_value,
    make_message_id,
    normalise_message_id,
    qp_line,
    strip_controls,
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


def test_html_to_7bit_makes_ascii_with_short_lines_and_keeps_text() -> None:
    page = "<p>" + ("Café “quoted” naïve \u0085 text " * 200) + "</p>" + "<td>x</td>" * 400
    out = html_to_7bit(page, limit=200)
    assert out.isascii()
    assert max(len(line) for line in out.split("\n")) <= 200
    assert "&#233;" in out and "&#8220;" in out
    assert "\u0085" not in out and "&#133;" not in out  # C1 control removed, not escaped
    # Only whitespace was added: the same characters in the same order.
    expected = strip_controls(page).encode("ascii", "xmlcharrefreplace").decode()
    assert "".join(out.split()) == "".join(expected.split())


def test_html_line_breaks_never_split_a_tag_attribute() -> None:
    href = "https://news.example.com/" + "a" * 150
    page = "".join(f'<a href="{href}" style="color:#000">link {i}</a>' for i in range(50))
    out = html_to_7bit(page, limit=300)
    assert out.count(href) == 50


def test_unbreakable_html_line_is_an_error_not_a_broken_tag() -> None:
    with pytest.raises(InputError):
        html_to_7bit('<a href="https://x.example/' + "a" * 1000 + '">x</a>', limit=200)


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


def test_qp_line_encodes_and_soft_breaks_at_76() -> None:
    value = "https://news.example.com/u/" + "x=y" * 60
    encoded = qp_line(value)
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))

    assert quopri.decodestring(encoded.replace(b"\r\n", b"\n")).decode() == value


def test_build_body_structure() -> None:
    body = build_body("Café text\n", "<p>caf&#233;</p>\n", boundary="b-1")
    msg = email.message_from_bytes(b"From: a@example.org\r\n" + body, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    plain, html_part = msg.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content_charset() == "utf-8"
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert html_part.get_content_type() == "text/html"
    assert html_part.get_content_charset() == "utf-8"
    assert html_part["Content-Transfer-Encoding"] == "7bit"
    assert plain.get_content().replace("\r\n", "\n") == "Café text\n"
    assert b"\n" not in body.replace(b"\r\n", b"")


def test_message_template_fill_is_one_pass() -> None:
    template = MessageTemplate.split(b"a TOK1 b TOK2 c TOK1", {"one": b"TOK1", "two": b"TOK2"})
    assert template.slots == ("one", "two", "one")
    # A value that contains another placeholder is not substituted again.
    assert template.fill({"one": b"TOK2", "two": b"2"}) == b"a TOK2 b 2 c TOK2"


def test_build_body_matches_an_email_package_build() -> None:
    """build_body frames the parts itself for speed; parsed back, it must say exactly what
    an EmailMessage build of the same parts says."""
    from email.message import EmailMessage

    from digest.mime import build_body, html_to_7bit

    text = "Café “quotes” = signs\nA line with trailing space \n" + "long " * 40 + "\n.dot\n"
    page = html_to_7bit("<html><body>" + "<p>Café &amp; words</p>" * 200 + "</body></html>")
    ours = email.message_from_bytes(build_body(text, page), policy=email.policy.default)
    # policy.SMTP writes QP lines of 78 characters; RFC 2045 allows 76.
    reference = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=76))
    reference.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    reference.add_alternative(page, subtype="html", charset="utf-8", cte="7bit")
    theirs = email.message_from_bytes(reference.as_bytes(), policy=email.policy.default)
    assert isinstance(ours, EmailMessage) and isinstance(theirs, EmailMessage)
    assert ours.get_content_type() == theirs.get_content_type() == "multipart/alternative"
    for a, b in zip(ours.iter_parts(), theirs.iter_parts(), strict=True):
        assert isinstance(a, EmailMessage) and isinstance(b, EmailMessage)
        assert a.get_content_type() == b.get_content_type()
        assert a.get_content_charset() == b.get_content_charset() == "utf-8"
        assert a.get_content() == b.get_content()
    raw = build_body(text, page)
    qp = raw.split(b"quoted-printable\r\n\r\n", 1)[1].split(b"\r\n--==digest-", 1)[0]
    assert all(len(line) <= 76 for line in qp.split(b"\r\n"))
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
