"""Deliverability headers and the text part (docs/email.md rules 5, 9, 10 and 15): one
Feedback-ID per message, the same for a whole variant; a List-Id with its description; a
hidden preview line that is not white-on-white, followed by the spacer; a text part that
keeps the blank line after the date, wraps prose at 78 and signs off with "-- "."""

from __future__ import annotations

import dataclasses
import re

from digest.config import SiteSettings
from digest.mime import DKIM_HEADERS
from digest.models import Recipient
from digest.render import Renderer
from tests.render_samples import NOW, SETTINGS, article, content, parse, parts, send, seven_articles


def test_feedback_id_one_per_message_same_for_the_variant() -> None:
    renderer = Renderer(SETTINGS)
    variant = renderer.render_variant(seven_articles())
    ids = set()
    for n in (1, 2, 3):
        data = renderer.personalise(
            variant, Recipient(n, f"r{n}@example.org"), message_id=f"<m{n}@x>", date=NOW
        ).data
        msg = parse(data)
        assert len(msg.get_all("Feedback-ID") or []) == 1
        ids.add(str(msg["Feedback-ID"]))
    (value,) = ids
    campaign, categories, edition, sender = value.split(":")
    assert campaign == "weekly-digest" and edition == "7" and sender == "news.example.com"
    assert categories == "consumer-safety.opioid-drugs.recalls"
    other = renderer.render_variant(content(("Courts", [article(1, "Courts")])))
    assert str(parse(other.template.fill(_values())).get("Feedback-ID")).split(":")[1] == "courts"


def test_list_id_carries_the_lists_description() -> None:
    msg = parse(send(Renderer(SETTINGS), seven_articles(), Recipient(1, "a@example.org")))
    assert msg["List-Id"] == '"Legal Reader weekly digest" <weekly.news.example.com>'
    spanish = dataclasses.replace(
        SETTINGS, site=dataclasses.replace(SETTINGS.site, name="Lector Jurídico")
    )
    raw = send(Renderer(spanish), seven_articles(), Recipient(1, "a@example.org"))
    line = next(x for x in raw.split(b"\r\n") if x.startswith(b"List-Id:"))
    assert line.endswith(b" <weekly.news.example.com>") and b"=?utf-8?b?" in line
    assert str(parse(raw)["List-Id"]).startswith("Lector Jurídico weekly digest")


def test_dkim_signs_the_list_headers() -> None:
    for header in ("list-id", "feedback-id", "list-unsubscribe", "list-unsubscribe-post"):
        assert header in DKIM_HEADERS


def test_preview_text_is_hidden_without_white_text_and_followed_by_the_spacer() -> None:
    renderer = Renderer(SETTINGS)
    variant = renderer.render_variant(seven_articles())
    page = renderer.render_html(variant)
    match = re.search(r'<div style="display:none;[^"]*">\s*([^<]*)</div>', page)
    assert match, "no hidden preview line"
    style = match.group(0)
    assert "color:#ffffff" not in style and "color:#fff;" not in style
    body = " ".join(match[1].split())
    assert body.startswith(" ".join(variant.preheader.replace("&", "&amp;").split())[:30])
    assert "&#847;&zwnj;&nbsp;" * 15 in match[1]  # the spacer
    assert page.index(match.group(0)) < page.index("<h1")
    assert "color:#ffffff;line-height:1px" not in page  # no mj-preview block


def test_text_part_date_blank_line_wrapping_and_signature() -> None:
    long_url = "https://news.example.com/a/very/long/path/that/goes/on/and/on/for/ever/" + "x" * 30
    c = content(
        (
            "Opioid Drugs",
            [article(1, url=long_url), article(2, author="", summary="A summary here.")],
        ),
        ("Consumer Safety", [article(3, "Consumer Safety")]),
        ("Recalls", [article(4, "Recalls")]),
        ("Courts", [article(5, "Courts")]),
    )
    settings = dataclasses.replace(
        SETTINGS,
        site=dataclasses.replace(
            SiteSettings(), postal_address="Legal Reader, " + "Suite 100, " * 8 + "Springfield"
        ),
    )
    text, _ = parts(parse(send(Renderer(settings), c, Recipient(1, "a@example.org"))))
    lines = text.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        if re.fullmatch(r"\d+ \w{3} \d{4}( · .*)?", line):
            assert lines[i + 1] == "", f"no blank line after the date line {line!r}"
    # One link per article, on a line of its own (docs/email.md rule 28).
    assert long_url in lines and "https://news.example.com/articles/2?a=1&b=2" in lines
    assert not any(line.startswith("Read the article") for line in lines)
    assert "-- " in lines and "--" not in lines
    footer = lines[lines.index("-- ") :]
    for line in footer:
        assert len(line) <= 78 or re.fullmatch(r"https://\S+", line), line
    for line in lines:
        assert len(line) <= 78 or re.fullmatch(r"https://\S+", line), line


def _values() -> dict[str, bytes]:
    return {
        "to": b"a@example.org",
        "date": b"Sat, 28 Nov 2026 08:00:00 +0000",
        "msgid": b"<x@y>",
        "list_unsub": b"<https://news.example.com/u/x>",
        "unsub_html": b"u",
        "prefs_html": b"p",
        "unsub_text": b"u",
        "prefs_text": b"p",
        "view_html": b"v",
        "view_text": b"v",
    }
