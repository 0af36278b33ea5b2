"""The digest the layout is measured on (issue #14): 30 articles in 7 categories, each with a
summary, an author and a body long enough for a reading time, every second one with a photo;
and a real PNG to serve for those photos, so the browser lays them out at their true height."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta

from digest.models import Article, DigestContent, Frequency, Section

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
CATEGORIES = (
    "Opioid Drugs", "Consumer Safety", "Courts", "Product Liability",
    "Medical Malpractice", "Employment Law", "Environmental Law",
)  # fmt: skip
PER_CATEGORY = (5, 5, 4, 4, 4, 4, 4)  # 30 articles
IMAGE_HOST = "https://images.example.com/"
_SENTENCE = (
    "The court heard arguments from both sides before the panel reserved its decision, "
    "and lawyers for the families said they expected a ruling within weeks. "
)


def _article(n: int, category: str) -> Article:
    words = 180 + 140 * (n % 6)  # one to four minutes at ~230 words a minute
    body = " ".join((_SENTENCE * 20).split()[:words])
    return Article(
        id=f"layout-{n}",
        url=f"https://news.example.com/{category.lower().replace(' ', '-')}/story-{n}",
        title=f"Regulators and courts weigh the {n}th case in a long-running dispute",
        published_at=NOW - timedelta(hours=2 * n + 1),
        categories=(category,),
        summary=(
            "A state appeals court revived claims against a manufacturer, sending the case "
            "back for trial and widening the questions a jury may hear."
        ),
        body_html=f"<p>{body}</p>",
        author="Jane Whitfield" if n % 3 else "Marcus Hale",
        image_url=f"{IMAGE_HOST}story-{n}.png" if n % 2 == 0 else "",
        image_alt=f"Photograph for story {n}" if n % 2 == 0 else "",
    )


def thirty_articles(language: str = "") -> DigestContent:
    """30 articles in 7 categories, as one weekly digest of edition 1."""
    sections = []
    n = 0
    for category, count in zip(CATEGORIES, PER_CATEGORY, strict=True):
        articles = []
        for _ in range(count):
            articles.append(_article(n, category))
            n += 1
        slug = category.lower().replace(" ", "-")
        sections.append(Section(category=category, slug=slug, articles=tuple(articles)))
    return DigestContent(
        site_name="Legal Reader",
        frequency=Frequency.WEEKLY,
        starts_at=NOW - timedelta(days=7),
        ends_at=NOW,
        sections=tuple(sections),
        edition_id=1,
        language=language,
    )


def png(width: int = 1200, height: int = 675) -> bytes:
    """A grey PNG of ``width`` x ``height``: what the photo requests are answered with."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" + b"\x90\x9a\xa6" * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )
