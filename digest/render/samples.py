"""Sample digests for the template check: hostile text, and a matrix of contexts that takes
every branch of the shipped templates (docs/email.md rules 10-21)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from digest.models import Article, DigestContent, Frequency, Section

SAMPLE_NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
# Text that has broken templates elsewhere: markup, MJML closers, Jinja syntax, entities.
HOSTILE = "</mj-text><mj-raw><script>alert(1)</script></mj-raw> {{ 7*7 }} {% if %} & \"q\" 'q' <b>"
_NAMES = (
    "Opioid Drugs", "Consumer Safety", "Recalls & Warnings", "Courts", "Health",
    "Regulation", "Lawsuits",
)  # fmt: skip


def _article(i: int, *, full: bool) -> Article:
    return Article(
        id=f"sample-{i}",
        url=f'https://news.example.com/articles/{i}?utm_source=digest&x="y"',
        title=f"Sample headline {i}: Café “quotes” {HOSTILE}",
        published_at=SAMPLE_NOW - timedelta(hours=6 * i),
        summary=f"Summary {i} with naïve text, an ellipsis… and {HOSTILE}" if full else "",
        body_html=f"<p>Body {i} <img src=x onerror=alert(1)> {HOSTILE}</p>" if full else "",
        author="Zoë O'Brien" if full else "",
        image_url="https://news.example.com/img/sample.png" if full else "",
        image_alt=f"Photo for sample {i} {HOSTILE}",
    )


def _content(sections: tuple[Section, ...]) -> DigestContent:
    return DigestContent(
        site_name="Legal Reader",
        frequency=Frequency.WEEKLY,
        starts_at=SAMPLE_NOW - timedelta(days=7),
        ends_at=SAMPLE_NOW,
        sections=sections,
        edition_id=1,
    )


def _section(k: int, articles: tuple[Article, ...]) -> Section:
    name = _NAMES[k % len(_NAMES)]
    return Section(category=name, slug=name.lower().replace(" ", "-"), articles=articles)


def sample_content() -> DigestContent:
    """A three-category digest whose text tries every trick an article could."""
    articles = [
        dataclasses.replace(
            _article(i, full=True),
            summary=f"Summary {i} with naïve text, an ellipsis… and {HOSTILE}" if i % 3 else "",
            author="Zoë O'Brien" if i % 2 else "",
            image_url="https://news.example.com/img/sample.png" if i % 4 == 0 else "",
        )
        for i in range(15)
    ]
    return _content(tuple(_section(k, tuple(articles[k::3])) for k in range(3)))


@dataclass(frozen=True)
class Case:
    """One context of the matrix: its name (for messages) and its content."""

    name: str
    content: DigestContent
    rtl: bool = False


def matrix(max_per_category: int) -> list[Case]:
    """Every branch: trimmed or not, with or without the archive link, one article with
    author, image and summary or one with none of them, the sample, the most a digest can
    hold (seven categories of ``max_per_category``, each with more left out), and the sample
    in a right-to-left language."""
    # Each category with more new articles than it shows: "5 of 11", "6 more in Courts".
    most = tuple(
        dataclasses.replace(
            _section(k, tuple(_article(k * 100 + i, full=True) for i in range(max_per_category))),
            total=max_per_category + 6,
        )
        for k in range(len(_NAMES))
    )
    shapes = {
        "one full article": _content((_section(0, (_article(1, full=True),)),)),
        "one bare article": _content((_section(0, (_article(2, full=False),)),)),
        "sample": sample_content(),
        f"{len(_NAMES)} categories of {max_per_category}": _content(most),
    }
    cases: list[Case] = []
    for shape, content in shapes.items():
        for trimmed in (0, 6):
            for archive in (True, False):
                name = (
                    f"{shape}, {'trimmed' if trimmed else 'not trimmed'}, "
                    f"{'with' if archive else 'without'} archive link"
                )
                varied = dataclasses.replace(
                    content, trimmed=trimmed, edition_id=1 if archive else None
                )
                cases.append(Case(name, varied))
    cases.append(Case("sample, right-to-left language", sample_content(), rtl=True))
    return cases
