"""Tracked links and the open image in the rendered digest (digest/render/tracking.py)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from digest.config import TrackingSettings
from digest.models import DigestContent, Recipient
from digest.render import Renderer
from digest.render.tracking import join_soft_breaks
from tests.render_samples import SETTINGS, parse, parts, send, seven_articles

ANA = Recipient(42, "ana@example.org", "Ana Ruiz")


def renderer(clicks: str, opens: str, url: str = "https://news.example.com") -> Renderer:
    site = dataclasses.replace(SETTINGS.site, url=url)
    return Renderer(
        dataclasses.replace(SETTINGS, site=site, tracking=TrackingSettings(clicks, opens))
    )


def with_categories(content: DigestContent) -> DigestContent:
    sections = tuple(
        dataclasses.replace(s, category_id=i + 1) for i, s in enumerate(content.sections)
    )
    return dataclasses.replace(content, sections=sections)


def links(data: bytes) -> tuple[list[str], list[str], list[str]]:
    text, page = parts(parse(data))
    html_links = [u for u in re.findall(r'href="([^"]+)"', page) if "/r/" in u]
    text_links = re.findall(r"https://\S+/r/\S+", text)
    return html_links, text_links, re.findall(r'<img src="([^"]+/o/[^"]*)"', page)


@pytest.mark.parametrize("url", ["https://news.example.com", "https://n.example/" + "x" * 40])
def test_per_reader_links_are_whole_in_both_parts_and_the_text_stays_76(url: str) -> None:
    r = renderer("per-reader", "per-reader", url)
    data = send(r, with_categories(seven_articles()), ANA)
    html_links, text_links, images = links(data)
    reader = r.site_links.reader_part(7, 42)
    assert len(set(html_links)) == 7 and set(html_links) == set(text_links)
    assert all(u.startswith(url + "/r/7.") and u.endswith(reader) for u in html_links)
    assert images == [r.site_links.open_image(7) + reader]
    text_part = data.split(b"quoted-printable\r\n\r\n", 1)[1].split(b"\r\n--==", 1)[0]
    assert max(len(line) for line in text_part.split(b"\r\n")) <= 76


def test_anonymous_links_are_the_same_for_every_reader() -> None:
    r = renderer("anonymous", "anonymous")
    content = with_categories(seven_articles())
    ana, bo = send(r, content, ANA), send(r, content, Recipient(43, "bo@example.org"))
    assert links(ana) == links(bo)
    html_links, _, images = links(ana)
    assert len(set(html_links)) == 7 and all(u.count("/") == 4 for u in html_links)
    assert images == [r.site_links.open_image(7)]
    assert r.placeholders.tokens["track"].encode() not in ana


@pytest.mark.parametrize("mode", ["anonymous", "per-reader"])
def test_content_of_no_edition_links_to_the_articles(mode: str) -> None:
    """A preview of content that is no edition's has nothing to count."""
    content = dataclasses.replace(with_categories(seven_articles()), edition_id=None)
    data = send(renderer(mode, mode), content, ANA)
    assert links(data) == ([], [], [])
    assert b"news.example.com/articles/0" in data


def test_off_links_to_the_articles_with_no_image() -> None:
    plain = send(renderer("off", "off"), with_categories(seven_articles()), ANA)
    assert links(plain) == ([], [], [])
    assert b"/r/" not in plain and b"/o/" not in plain and b'width="1"' not in plain
    # The headline is the article's one link (no image here: no thumbnail link either).
    assert plain.count(b'href="https://news.example.com/articles/0?a=1&amp;b=2"') == 1


def test_previews_get_links_naming_nobody() -> None:
    r = renderer("per-reader", "off")
    variant = r.render_variant(with_categories(seven_articles()))
    page, text = r.render_html(variant), r.render_text(variant)
    assert r.placeholders.tokens["track"] not in page + text
    anonymous = set(re.findall(r'href="([^"]+/r/[^"]+)"', page))
    assert anonymous == set(re.findall(r"https://\S+/r/\S+", text))
    assert all(u.count("/") == 4 for u in anonymous)
    # Not even a preview for one reader: an editor's click must not count as theirs.
    assert set(re.findall(r'href="([^"]+/r/[^"]+)"', r.render_html(variant, ANA))) == anonymous
    assert r.render_text(variant, ANA).count("/r/") == text.count("/r/") == 7


def test_a_token_line_after_a_full_line_takes_the_last_character_along() -> None:
    token = b"zz1234abcdtrackzz"
    full = b"https://news.example.com/r/" + b"a" * (76 - 27)
    assert len(full) == 76
    joined = join_soft_breaks(b"x\r\n" + full + b"\r\n" + token + b"\r\nend", token)
    assert joined == b"x\r\n" + full[:-1] + b"=\r\n" + full[-1:] + b"=\r\n" + token + b"\r\nend"
    escaped = b"a" * 73 + b"=3D"
    joined = join_soft_breaks(escaped + b"\r\n" + token, token)
    assert joined == b"a" * 73 + b"=\r\n=3D=\r\n" + token


def test_opens_alone_leave_the_article_links_plain() -> None:
    r = renderer("off", "per-reader")
    data = send(r, with_categories(seven_articles()), ANA)
    html_links, text_links, images = links(data)
    assert (html_links, text_links) == ([], [])
    assert images == [r.site_links.open_image(7) + r.site_links.reader_part(7, 42)]
    text, _ = parts(parse(data))
    assert "/o/" not in text  # readers of plain text are never counted
