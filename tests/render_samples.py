"""Sample content, settings and parsing helpers for the rendering tests."""

from __future__ import annotations

import email
import email.header
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from digest.config import Settings
from digest.mime import make_message_id
from digest.models import Article, DigestContent, Frequency, Recipient, Section
from digest.render import Renderer

SECRET = "render-test-secret"


SETTINGS = Settings(secret_key=SECRET)


NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


FIXTURES = Path(__file__).parent / "fixtures" / "templates"


HOSTILE = "</mj-text><mj-raw><script>alert(1)</script></mj-raw> {{ 7*7 }} & \"dq\" 'sq'"


def article(i: int, category: str = "Opioid Drugs", **kw: object) -> Article:
    fields: dict[str, object] = {
        "id": f"a{i}",
        "url": f"https://news.example.com/articles/{i}?a=1&b=2",
        "title": f"Headline number {i}",
        "published_at": NOW - timedelta(hours=i),
        "categories": (category,),
        "summary": f"Summary of article {i}.",
        "author": "Ana Ruiz" if i % 2 else "",
    }
    fields.update(kw)
    return Article(**fields)  # type: ignore[arg-type]


def content(*sections: tuple[str, list[Article]], edition_id: int | None = 7) -> DigestContent:
    return DigestContent(
        site_name="Legal Reader",
        frequency=Frequency.WEEKLY,
        starts_at=NOW - timedelta(days=7),
        ends_at=NOW,
        sections=tuple(
            Section(category=name, slug=name.lower().replace(" ", "-"), articles=tuple(arts))
            for name, arts in sections
        ),
        edition_id=edition_id,
    )


def seven_articles() -> DigestContent:
    return content(
        ("Opioid Drugs", [article(i) for i in range(3)]),
        ("Consumer Safety", [article(i, "Consumer Safety") for i in range(3, 5)]),
        ("Recalls", [article(i, "Recalls") for i in range(5, 7)]),
    )


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def parts(msg: EmailMessage) -> tuple[str, str]:
    plain, html_part = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html_part is not None
    return plain.get_content().replace("\r\n", "\n"), html_part.get_content()


def send(renderer: Renderer, c: DigestContent, recipient: Recipient) -> bytes:
    variant = renderer.render_variant(c)
    return renderer.personalise(
        variant, recipient, message_id=make_message_id("news.example.com"), date=NOW
    ).data
