"""The body: 7-bit HTML, quoted-printable values and multipart framing."""

from __future__ import annotations

import email
import email.header
import email.policy
import quopri

import pytest

from digest.errors import InputError
from digest.mime import (
    build_body,
    html_to_7bit,
    qp_line,
    strip_controls,
)


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
