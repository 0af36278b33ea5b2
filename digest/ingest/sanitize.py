"""Untrusted HTML and text -> safe HTML, plain text, short summaries, absolute http(s) URLs."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import nh3

SUMMARY_LENGTH = 300

ALLOWED_TAGS = {
    "p",
    "a",
    "em",
    "strong",
    "b",
    "i",
    "ul",
    "ol",
    "li",
    "blockquote",
    "br",
    "h2",
    "h3",
    "h4",
    "code",
    "pre",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
_BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "td",
    "th",
    "pre",
    "section",
    "article",
    "figure",
    "figcaption",
    "hr",
}


def sanitize_html(value: str, *, base: str = "") -> str:
    """Untrusted HTML -> a small allowlist safe in email: no scripts, styles, event handlers
    or images; links absolute http(s) only (relative ones resolved against ``base``)."""
    if not value.strip():
        return ""

    def keep_attribute(tag: str, attribute: str, url: str) -> str | None:
        if tag == "a" and attribute == "href":
            return resolve_url(base, url) or None
        return url

    cleaned = nh3.clean(
        value,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=keep_attribute,
        url_schemes={"http", "https"},
        link_rel="noopener",
    )
    cleaned = cleaned.strip()
    # Bare text (a plain RSS description) becomes a paragraph, so templates get block HTML.
    return cleaned if not cleaned or cleaned.startswith("<") else f"<p>{cleaned}</p>"


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def plain_text(value: str) -> str:
    """Tags stripped, entities unescaped, whitespace collapsed."""
    if "<" not in value and "&" not in value:
        return " ".join(value.split())
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    return " ".join(html.unescape("".join(parser.parts)).split())


def truncate(text: str, limit: int = SUMMARY_LENGTH) -> str:
    """At most ``limit`` characters, cut on a word boundary, with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not text[limit - 1].isspace() and " " in cut:  # mid-word: drop the partial word
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-–—") + "…"


def resolve_url(base: str, href: str) -> str:
    """``href`` made absolute against ``base``; "" unless that gives an http(s) URL. An empty
    href stays empty: urljoin would turn it into the base itself."""
    href = href.strip()
    return http_url(urljoin(base, href)) if href else ""


def http_url(value: str) -> str:
    """``value`` stripped if it is an absolute http(s) URL, else ""."""
    value = value.strip()
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else ""
