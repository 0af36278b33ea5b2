"""The digest message end to end: render once, personalise, parse back, check docs/email.md."""

from __future__ import annotations

import ast
import dataclasses
import email
import email.header
import email.policy
import html
import re
from pathlib import Path

import pytest
from mjml import mjml2html

from digest.errors import InputError
from digest.links import Links
from digest.mime import make_message_id
from digest.models import Recipient
from digest.render import HTML_SIZE_LIMIT, Renderer
from digest.tokens import ViewClaim, read_preferences_token, read_unsubscribe_token
from tests.render_samples import (
    HOSTILE,
    NOW,
    SECRET,
    SETTINGS,
    article,
    content,
    parse,
    parts,
    send,
    seven_articles,
)


def test_default_subject() -> None:
    renderer = Renderer(SETTINGS)
    assert renderer.subject_for(seven_articles()) == (
        "Legal Reader weekly: 7 new articles in Opioid Drugs, Consumer Safety and 1 more"
    )


def test_headers_and_mime_structure_per_email_md() -> None:
    settings = dataclasses.replace(
        SETTINGS,
        sender=dataclasses.replace(
            SETTINGS.sender,
            reply_to="Editors <editors@news.example.com>",
            unsubscribe_mailto="unsubscribe@news.example.com",
        ),
    )
    renderer = Renderer(settings)
    data = send(renderer, seven_articles(), Recipient(42, "ana@example.org", "Ana Ruiz"))
    header_block = data.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0].lower() for line in header_block.split(b"\r\n")]
    names = [n for n in names if not n.startswith((b" ", b"\t"))]
    for required in (b"from", b"to", b"subject", b"date", b"message-id", b"mime-version"):
        assert names.count(required) == 1, required
    msg = parse(data)
    assert msg["From"] == "Legal Reader <digest@news.example.com>"
    assert len(msg["From"].addresses) == 1
    assert msg["To"] == "Ana Ruiz <ana@example.org>"
    assert msg["Reply-To"] == "Editors <editors@news.example.com>"
    assert re.fullmatch(r"<[0-9a-f]{16}\.\d+\.\d+@news\.example\.com>", msg["Message-ID"])
    assert msg["Date"].datetime == NOW
    assert msg["List-Id"] == '"Legal Reader weekly digest" <weekly.news.example.com>'
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Precedence"] == "bulk"
    urls = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
    assert len(urls) == 2 and urls[1].startswith("mailto:unsubscribe@news.example.com")
    [https] = [u for u in urls if u.startswith("https://")]
    assert read_unsubscribe_token(SECRET, https.rsplit("/", 1)[1]) == 42
    assert "ana" not in https
    # Multipart/alternative, text first, html last, both utf-8, allowed encodings.
    assert msg.get_content_type() == "multipart/alternative"
    plain, html_part = list(msg.iter_parts())
    assert (plain.get_content_type(), html_part.get_content_type()) == ("text/plain", "text/html")
    assert plain.get_content_charset() == html_part.get_content_charset() == "utf-8"
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert html_part["Content-Transfer-Encoding"] == "7bit"
    # CRLF only; no line over 998 anywhere, none over 76 in the QP part.
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    qp_body = data.split(b"Content-Transfer-Encoding: quoted-printable\r\n\r\n", 1)[1]
    qp_body = qp_body.split(b"\r\n--", 1)[0]
    assert max(len(line) for line in qp_body.split(b"\r\n")) <= 76
    assert data.isascii()


def test_both_parts_carry_content_links_and_footer() -> None:
    renderer = Renderer(SETTINGS)
    text, page = parts(parse(send(renderer, seven_articles(), Recipient(5, "a@example.org"))))
    for i in range(7):
        assert f"Headline number {i}" in text and f"Headline number {i}" in page
        assert f"https://news.example.com/articles/{i}?a=1&b=2" in text
        # One link per article: the headline (docs/email.md rule 28).
        assert page.count(f'href="https://news.example.com/articles/{i}?a=1&amp;b=2"') == 1
        # The lead of each category (0, 3 and 5) with its summary, the others compact.
        lead = i in (0, 3, 5)
        assert (f"Summary of article {i}." in text) is lead
        assert (f"Summary of article {i}." in page) is lead
    for part in (text, page):
        # why you get this (the text part wraps it at 78 columns)
        assert "Opioid Drugs, Consumer Safety, Recalls" in " ".join(part.split())
        assert SETTINGS.site.postal_address in part
        view = re.search(r"https://news\.example\.com/v/([\w.-]+)", part)
        assert view and Links("https://news.example.com", SECRET).read_view(view[1]) == (
            ViewClaim(subscriber_id=5, edition_id=7)
        )
    unsub = re.search(r"https://news\.example\.com/u/([\w.-]+)", text)
    prefs = re.search(r"https://news\.example\.com/p/([\w.-]+)", page)
    assert unsub and prefs
    assert read_unsubscribe_token(SECRET, unsub.group(1)) == 5
    assert read_preferences_token(SECRET, prefs.group(1)) == 5
    assert ">Unsubscribe</a>" in page and ">Manage your categories</a>" in page
    assert ">View in browser</a>" in page
    assert "Read the article" not in page and "Read the article" not in text
    assert "&amp;" not in text
    assert '<html lang="en" dir="ltr"' in page
    assert page.count("<h1") == 1
    assert '<meta name="color-scheme" content="light dark"' in page


def test_no_view_in_browser_without_an_edition() -> None:
    renderer = Renderer(SETTINGS)
    c = dataclasses.replace(seven_articles(), edition_id=None)
    text, page = parts(parse(send(renderer, c, Recipient(5, "a@example.org"))))
    assert "View in browser" not in page and "View in browser" not in text


def test_hostile_article_text_comes_out_as_text() -> None:
    hostile = article(
        1,
        title=f"Title {HOSTILE}",
        summary=f"Summary {HOSTILE}",
        author=f"Author {HOSTILE}",
        image_url="https://img.example.com/a.png",
        image_alt=f"Alt {HOSTILE}",
    )
    body_only = article(
        2, summary="", body_html=f"<p>Body <b>bold</b> <script>evil()</script>{HOSTILE}</p>"
    )
    renderer = Renderer(SETTINGS)
    # Both leads of their category: a lead shows its summary.
    variant = renderer.render_variant(content(("Opioid Drugs", [hostile]), ("Courts", [body_only])))
    text, page = parts(
        parse(
            renderer.personalise(
                variant, Recipient(1, "a@example.org"), message_id="<x@news.example.com>", date=NOW
            ).data
        )
    )
    assert "<script" not in page and "<mj-" not in page
    assert "&lt;/mj-text&gt;&lt;mj-raw&gt;&lt;script&gt;" in page
    assert "{{ 7*7 }}" in page and "49" not in page
    assert "&amp; &#34;dq&#34; &#39;sq&#39;" in page
    assert 'alt="Alt &lt;/mj-text&gt;' in page
    assert "evil()" not in page and "<b>bold" not in page
    assert "Body bold" in page and "Body bold" in text
    assert f"Title {HOSTILE}" in text  # plain text: the characters themselves, unescaped
    assert "{{ 7*7 }}" in variant.subject or "Opioid Drugs" in variant.subject


def test_images_need_https_alt_and_width() -> None:
    arts = [
        article(1, image_url="https://img.example.com/a.jpg", image_alt="A chart"),
        article(2, image_url="http://img.example.com/b.png", image_alt="plain http"),
        article(3, image_url="https://img.example.com/c.svg", image_alt="svg"),
        article(4, image_url="data:image/png;base64,AAAA", image_alt="data"),
    ]
    renderer = Renderer(SETTINGS)
    page = renderer.render_html(renderer.render_variant(content(("Opioid Drugs", arts))))
    imgs = re.findall(r"<img [^>]*>", page)
    assert len(imgs) == 1
    assert 'src="https://img.example.com/a.jpg"' in imgs[0]
    assert 'alt="A chart"' in imgs[0] and 'width="552"' in imgs[0]


def test_long_personalised_values_and_non_ascii_names_survive_qp() -> None:
    """Placeholders must never be split by a soft line break: check every link of many
    recipients with long names and large ids, in both parts and the headers."""
    settings = dataclasses.replace(
        SETTINGS,
        site=dataclasses.replace(
            SETTINGS.site, url="https://a-rather-long-newsroom-name.example.com/digest"
        ),
    )
    renderer = Renderer(settings)
    arts = [article(i, title=f"Überschrift {i} — “naïve” café " * 3) for i in range(5)]
    variant = renderer.render_variant(content(("Verbraucherschutz für Ärzte", arts)))
    names = ["Zoë Ångström-Müller " * 8, "Дмитрий Иванович Петров", "李小龍", 'O\'Brien, "Pat"', ""]
    for n, name in enumerate(names):
        sid = 10**12 + n
        message = renderer.personalise(
            variant,
            Recipient(sid, f"reader{n}@example.org", name),
            message_id=make_message_id("news.example.com"),
            date=NOW,
        )
        data = message.data
        assert max(len(line) for line in data.split(b"\r\n")) <= 998
        msg = parse(data)
        assert msg["To"].addresses[0].addr_spec == f"reader{n}@example.org"
        to_raw = data.split(b"\r\nTo: ", 1)[1].split(b"\r\nSubject:", 1)[0].decode()
        phrase = to_raw.replace("\r\n ", " ").rsplit(" <", 1)[0] if name else ""
        if name and not name.isascii():
            decoded = str(email.header.make_header(email.header.decode_header(phrase)))
            assert decoded == " ".join(name.split())
        text, page = parts(msg)
        for part in (text, page, str(msg["List-Unsubscribe"])):
            tokens = re.findall(r"/u/([0-9a-z-]+\.[\w-]{22})", part)
            assert tokens, part[-500:]
            assert all(read_unsubscribe_token(SECRET, t) == sid for t in tokens)
        for part in (text, page):
            tokens = re.findall(r"/p/([0-9a-z]+\.[\w-]{22})", part)
            assert tokens and all(read_preferences_token(SECRET, t) == sid for t in tokens)
        assert "Überschrift 0 — “naïve” café" in text
        assert "Überschrift 0 — “naïve” café" in html.unescape(page)
        assert "zz" + renderer.placeholders.nonce not in data.decode()


def test_mjml_compiles_once_for_many_recipients() -> None:
    calls: list[str] = []

    def counting(source: str) -> str:
        calls.append(source)
        return mjml2html(source)

    renderer = Renderer(SETTINGS, compiler=counting)
    variant = renderer.render_variant(seven_articles())
    messages = [
        renderer.personalise(
            variant,
            Recipient(i, f"r{i}@example.org"),
            message_id=f"<m{i}@news.example.com>",
            date=NOW,
        )
        for i in range(200)
    ]
    assert len(calls) == 1 and renderer.compile_count == 1
    assert len({m.data for m in messages}) == 200
    assert messages[3].message_id == "<m3@news.example.com>"
    assert messages[3].recipient == "r3@example.org" and messages[3].subscriber_id == 3
    assert messages[3].sender == "digest@news.example.com"


def test_oversized_digest_is_trimmed_oldest_first_and_says_so() -> None:
    long_summary = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 5
    cats = ["Opioid Drugs", "Consumer Safety", "Recalls", "Courts"]
    sections = [
        (
            cat,
            [
                article(
                    c * 100 + i,
                    cat,
                    title="A long headline " * 8,
                    summary=long_summary,
                    image_url="https://img.example.com/x.png",
                    image_alt="Photo " * 10,
                )
                for i in range(40)
            ],
        )
        for c, cat in enumerate(cats)
    ]
    big = content(*sections)
    renderer = Renderer(SETTINGS)
    variant = renderer.render_variant(big)
    assert variant.trimmed > 0
    assert variant.content.article_count + variant.trimmed == big.article_count
    data = renderer.personalise(
        variant, Recipient(10**12, "a@example.org"), message_id="<m@news.example.com>", date=NOW
    ).data
    html_body = data.split(b"Content-Transfer-Encoding: 7bit\r\n\r\n", 1)[1].split(
        b"\r\n--==digest", 1
    )[0]
    assert len(html_body) <= variant.html_size <= HTML_SIZE_LIMIT
    assert len(html_body) > HTML_SIZE_LIMIT * 0.8  # trimmed to fit, not gutted
    kept = {a.published_at for s in variant.content.sections for a in s.articles}
    dropped = {a.published_at for _, arts in sections for a in arts} - kept
    assert max(dropped) <= min(kept)  # the oldest went
    text, page = parts(parse(data))
    assert f"{variant.trimmed} more articles on the site" in page
    assert f"{variant.trimmed} more articles on the site" in text
    # The subject counts what the message holds, not what trimming left out.
    held = variant.content.article_count
    assert held < big.article_count
    assert variant.subject.startswith(f"Legal Reader weekly: {held} new articles")


def test_c1_and_other_controls_never_reach_the_message() -> None:
    renderer = Renderer(SETTINGS)
    c = content(
        ("Opioid Drugs", [article(1, title="Bad\u0085 title\u009f\x07", summary="x\u0080y")])
    )
    variant = renderer.render_variant(c)
    data = renderer.personalise(
        variant, Recipient(1, "a@example.org"), message_id="<m@news.example.com>", date=NOW
    ).data
    text, page = parts(parse(data))
    for part in (text, page, variant.subject):
        assert not re.search("[\u0080-\u009f\x07]", part)
    assert not re.search(r"&#(12[89]|1[3-5]\d);", page)
    assert "Bad title" in text


def test_preheader_is_hidden_summary_not_the_subject() -> None:
    renderer = Renderer(SETTINGS)
    for c in (seven_articles(), content(("Recalls", [article(1, title="Short")]))):
        variant = renderer.render_variant(c)
        assert 40 <= len(variant.preheader) <= 150
        assert variant.preheader != variant.subject
        assert variant.preheader.split(";")[0].startswith(c.sections[0].articles[0].title[:5])
        assert "display:none" in variant.html.split(variant.preheader[:20], 1)[0][-400:]


def test_subject_prefix_and_non_ascii_subject_bytes() -> None:
    renderer = Renderer(SETTINGS)
    c = content(("Médicaments opioïdes", [article(1)]))
    variant = renderer.render_variant(c, subject_prefix="[TEST] ")
    data = renderer.personalise(
        variant, Recipient(1, "a@example.org"), message_id="<m@news.example.com>", date=NOW
    ).data
    raw = data.split(b"\r\nSubject: ", 1)[1].split(b"\r\nDate:", 1)[0]
    assert b"?==?" not in raw and raw.startswith(b"=?utf-8?b?")
    assert (
        parse(data)["Subject"]
        == "[TEST] Legal Reader weekly: 1 new article in Médicaments opioïdes"
    )


def test_empty_digest_is_refused() -> None:
    with pytest.raises(InputError):
        Renderer(SETTINGS).render_variant(content(("Opioid Drugs", [])))


def test_personalised_message_carries_its_subject() -> None:
    renderer = Renderer(SETTINGS)
    variant = renderer.render_variant(content(("Médicaments", [article(1)])), subject_prefix="[T] ")
    message = renderer.personalise(
        variant, Recipient(1, "a@example.org"), message_id="<m@news.example.com>", date=NOW
    )
    assert message.subject == variant.subject == parse(message.data)["Subject"]
    assert message.subject == "[T] Legal Reader weekly: 1 new article in Médicaments"


def test_render_and_mime_never_import_the_store() -> None:
    """Values in, bytes out: the store stays out of rendering and message building."""
    root = Path(__file__).parent.parent / "digest"
    for path in [*(root / "render").glob("*.py"), *(root / "mime").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any(n.startswith("digest.store") for n in names), path
