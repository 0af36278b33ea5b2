"""How articles and editions are shown: text, dates, links made safe.

Pure functions and small views of content that the templates use; the Renderer builds its
template context from them, and the web pages use the same ones so mail and site agree.
"""

from __future__ import annotations

import dataclasses
import gettext
import html
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import nh3

from digest.mime import strip_controls
from digest.models import Article, DigestContent, Section
from digest.render import i18n
from digest.render.i18n import NP_

SUMMARY_CHARS = 320
IMAGE_WIDTH = 552  # the 600px body less 24px padding each side
THUMBNAIL_WIDTH = 72  # the linked thumbnail beside a story that is not its category's lead
WORDS_PER_MINUTE = 230  # an adult's silent reading of prose (docs/email.md rule 28)
READING_TIME = NP_("%(num)d min read", "%(num)d min read")
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif")


@dataclass(frozen=True)
class ArticleView:
    """What templates see of an article: text cleaned, URLs checked, date formatted."""

    id: str
    title: str
    url: str
    date: str
    date_iso: str
    author: str
    summary: str
    image_url: str
    image_alt: str
    image_width: int
    summary_wrapped: str = ""  # the summary wrapped at 72 columns, for the text part
    # "3 min read" in the view's language, "" when the body is not known (docs/email.md
    # rule 28); translated once here, where the view is cached, not once per render.
    reading_time: str = ""
    thumb_width: int = THUMBNAIL_WIDTH


@dataclass(frozen=True)
class SectionView:
    category: str
    slug: str
    articles: tuple[ArticleView, ...]
    total: int = 0  # new articles in the category, shown or not
    more_url: str = ""  # where the ones not shown are: the archive page's anchor

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.articles))


def article_view(article: Article, *, fallback_url: str, lang: str = "en") -> ArticleView:
    """``article`` as templates see it; ``fallback_url`` (the site) stands in for a link that
    is not safe."""
    image = safe_image_url(article.image_url)
    summary = summary_text(article)
    return ArticleView(
        id=article.id,
        title=clean_text(article.title) or "(untitled)",
        url=safe_url(article.url) or fallback_url,
        date=date_label(article.published_at, lang),
        date_iso=article.published_at.date().isoformat(),
        author=clean_text(article.author),
        summary=summary,
        summary_wrapped=textwrap.fill(summary, 72, break_long_words=False),
        image_url=image,
        image_alt=clean_text(article.image_alt) if image else "",
        image_width=IMAGE_WIDTH,
        reading_time=reading_time(article, lang),
    )


def reading_minutes(article: Article) -> int:
    """Minutes to read the article's body at WORDS_PER_MINUTE, at least 1; 0 when its body
    is not known. A send loads only the count of words (``article.words``)."""
    words = article.words
    if not words and article.body_html:
        words = len(html.unescape(nh3.clean(article.body_html, tags=set())).split())
    return max(1, round(words / WORDS_PER_MINUTE)) if words else 0


def reading_time(article: Article, lang: str = "en") -> str:
    """``3 min read`` in ``lang``, or "" when the body is not known."""
    minutes = reading_minutes(article)
    if not minutes:
        return ""
    singular, plural = READING_TIME
    text: str = i18n.translations(lang).ngettext(singular, plural, minutes)
    return text % {"num": minutes}


# -- text helpers ---------------------------------------------------------------------------


def clean_text(value: str) -> str:
    """One line of plain text: controls removed, whitespace collapsed."""
    return " ".join(strip_controls(value).split())


def summary_text(article: Article) -> str:
    """The article's summary, else text taken from its body HTML, cut at a word near
    SUMMARY_CHARS. Body HTML is untrusted: nh3 with no allowed tags keeps only its text,
    which the templates then escape like any other text."""
    text = article.summary
    if not text and article.body_html:
        text = html.unescape(nh3.clean(article.body_html, tags=set()))
    text = clean_text(text)
    if len(text) > SUMMARY_CHARS:
        text = text[:SUMMARY_CHARS].rsplit(" ", 1)[0].rstrip(",;:.") + "…"
    return text


def safe_url(url: str) -> str:
    """``url`` when it is an absolute http(s) URL with no whitespace, else ""."""
    url = url.strip()
    if not url.lower().startswith(("https://", "http://")) or any(c.isspace() for c in url):
        return ""
    return strip_controls(url)


def safe_image_url(url: str) -> str:
    """Images must be absolute https PNG/JPG/GIF (docs/email.md rule 14); a URL with no file
    extension (a CDN) is allowed, SVG, WebP and data: are not."""
    url = safe_url(url)
    if not url.lower().startswith("https://"):
        return ""
    path = url.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1].lower()
    if "." in path and not path.endswith(_IMAGE_EXTENSIONS):
        return ""
    return url


def date_label(dt: datetime, lang: str = "en") -> str:
    """The date in the language's format (Babel): ``28 Nov 2026``, ``28 nov 2026``."""
    return i18n.date_label(dt, lang)


def period_label(starts_at: datetime, ends_at: datetime, lang: str = "en") -> str:
    """``22 Nov 2026 – 28 Nov 2026``; the end is exclusive, so midnight is the day before."""
    return i18n.period_label(starts_at, ends_at, lang)


def category_summary(
    names: Sequence[str], translate: gettext.NullTranslations | None = None
) -> str:
    """Names for a subject: A; A and B; A, B and 1 more (in the language of ``translate``)."""
    t = translate or gettext.NullTranslations()
    if len(names) <= 1:
        return names[0] if names else ""
    if len(names) == 2:
        return t.gettext("%(first)s and %(second)s") % {"first": names[0], "second": names[1]}
    return t.ngettext(
        "%(first)s, %(second)s and %(num)d more",
        "%(first)s, %(second)s and %(num)d more",
        len(names) - 2,
    ) % {"first": names[0], "second": names[1], "num": len(names) - 2}


def make_preheader(content: DigestContent, subject: str) -> str:
    """The hidden preview line: the first headlines, 40-150 characters, never the subject."""
    titles = [clean_text(a.title) for s in content.sections for a in s.articles]
    text = "; ".join(t for t in titles[:3] if t)
    if len(text) > 150:
        text = text[:149].rsplit(" ", 1)[0] + "…"
    if len(text) < 40:
        text = f"{text}: the latest from {content.site_name}" if text else ""
        while len(text) < 40:
            text = f"{text} Read the {content.frequency} digest.".strip()
        text = text[:150]
    if text == subject:
        text = (text[:130] + " and more").strip()
    return text


def drop_oldest(content: DigestContent, n: int) -> DigestContent:
    """``content`` without its ``n`` oldest articles, pinned ones last; sections left empty
    are dropped."""
    ranked = sorted(
        (
            (a.id in content.pinned, a.published_at, si, ai)
            for si, s in enumerate(content.sections)
            for ai, a in enumerate(s.articles)
        ),
    )
    dropped = {(si, ai) for _, _, si, ai in ranked[:n]}
    sections: list[Section] = []
    for si, s in enumerate(content.sections):
        kept = tuple(a for ai, a in enumerate(s.articles) if (si, ai) not in dropped)
        if kept:
            sections.append(dataclasses.replace(s, articles=kept))
    return dataclasses.replace(
        content, sections=tuple(sections), trimmed=content.trimmed + len(dropped)
    )
