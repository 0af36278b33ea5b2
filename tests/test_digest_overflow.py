"""Nothing dropped silently: a category with more new articles than
``max_articles_per_category`` says "5 of 11" and links "6 more in Courts" to that category's
anchor on the edition's archive page, which lists them; the subject counts what the email
holds; a digest of several categories opens with a linked table of contents."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from digest.render import Renderer
from digest.web import create_app
from tests.builders import NOW, add_articles, article, make_db, send_at, settings_for, subscribe
from tests.relay import running_relay
from tests.render_samples import SETTINGS, content
from tests.render_samples import article as sample_article


def parts(data: bytes) -> tuple[str, str, str]:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    text = msg.get_body(("plain",))
    page = msg.get_body(("html",))
    assert text is not None and page is not None
    # html_to_7bit breaks long lines at spaces: compare the HTML with whitespace collapsed.
    html = " ".join(page.get_content().split())
    return str(msg["Subject"]), text.get_content().replace("\r\n", "\n"), html


def test_eleven_articles_say_five_of_eleven_and_link_the_rest(tmp_path: Path) -> None:
    db_path = tmp_path / "digest.db"
    db = make_db(db_path)
    add_articles(
        db,
        [
            article(f"c{i:02}", ("Courts",), NOW - timedelta(hours=3 + i), title=f"Ruling {i:02}")
            for i in range(11)
        ],
        NOW - timedelta(hours=2),
    )
    subscribe(db, "reader@example.com", ("Courts",))
    with running_relay() as relay:
        settings = settings_for(db_path, relay.url)
        report = send_at(db, settings, NOW)
        assert report.sent == 1
        (received,) = relay.received
    subject, text, page = parts(received.data)
    assert subject.startswith("Legal Reader weekly: 5 new articles in Courts"), subject
    assert "5 of 11" in page and "\n5 of 11\n" in text
    match = re.search(r'<a href="([^"]+)"[^>]*>6 more in Courts</a>', page)
    assert match, page
    url = match[1]
    assert f"6 more in Courts:\n{url}\n" in text
    assert url.startswith("https://news.example.com/archive/") and url.endswith("#courts")
    path, anchor = url.removeprefix("https://news.example.com").split("#")
    shown = re.findall(r"Ruling \d\d", page)
    assert len(set(shown)) == 5

    client = create_app(settings).test_client()
    response = client.get(path)
    assert response.status_code == 200
    archive = response.get_data(as_text=True)
    assert f'id="{anchor}"' in archive
    # The archive's Courts section lists all eleven, the six the email left out included.
    section = archive[archive.index(f'id="{anchor}"') :]
    assert sorted(set(re.findall(r"Ruling \d\d", section))) == [f"Ruling {i:02}" for i in range(11)]


def test_several_categories_open_with_a_table_of_contents() -> None:
    digest = content(
        ("Opioid Drugs", [sample_article(1), sample_article(2)]),
        ("Courts", [sample_article(3, "Courts")]),
    )
    renderer = Renderer(SETTINGS)
    variant = renderer.render_variant(digest)
    page = renderer.render_html(variant)
    toc = page.index("In this digest:")
    assert toc < page.index('id="opioid-drugs"') < page.index('id="courts"')
    assert '<a href="#opioid-drugs"' in page and '<a href="#courts"' in page
    assert "In this digest:\n- Opioid Drugs (2)\n- Courts (1)\n" in renderer.render_text(variant)
    single = renderer.render_variant(content(("Courts", [sample_article(3, "Courts")])))
    assert "In this digest:" not in single.html
