"""Feeds -> Articles: RSS 0.9x/1.0/2.0 and Atom (via feedparser), and JSON Feed."""

from __future__ import annotations

import html
import json
import xml.sax
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from digest.errors import InputError
from digest.ingest.dates import from_struct_time, parse_field_date
from digest.ingest.records import make_article
from digest.ingest.sanitize import http_url, resolve_url
from digest.models import Article

# -- RSS and Atom ---------------------------------------------------------------------------


def parse_feed(
    data: bytes, *, source: str, now: datetime, categories: Sequence[str] = (), base: str = ""
) -> list[Article]:
    """RSS 0.9x/1.0/2.0 or Atom bytes -> Articles (via feedparser)."""
    # Imported here: only feed imports need it, and it costs every process some 8 MB
    # (docs/performance.md, Memory).
    import feedparser

    headers = {"content-location": base} if base else {}
    parsed = feedparser.parse(data, response_headers=headers)
    error = parsed.get("bozo_exception")
    if not parsed.get("version"):
        raise InputError(f"{source}: not a feed (no RSS, Atom or JSON Feed found)")
    # feedparser recovers from almost anything; a syntax error means entries may be cut off,
    # so refuse the feed. Undefined entities (&nbsp; in RSS) are common and harmless.
    if isinstance(error, xml.sax.SAXParseException) and "undefined entity" not in str(error):
        raise InputError(
            f"{source}: not a well-formed feed (line {error.getLineNumber()}: {error.getMessage()})"
        )
    feed_link = str(parsed.feed.get("link", "")) or base
    return [
        _entry_article(
            entry, f"{source}: entry {number}", feed_link=feed_link, now=now, categories=categories
        )
        for number, entry in enumerate(parsed.entries, 1)
    ]


def _entry_article(
    entry: Mapping[str, Any],
    where: str,
    *,
    feed_link: str,
    now: datetime,
    categories: Sequence[str],
) -> Article:
    link = resolve_url(feed_link, str(entry.get("link", "")))
    content = entry.get("content") or []
    html_parts = [c for c in content if "html" in c.get("type", "")] or content
    raw_body = str(html_parts[0].get("value", "")) if html_parts else ""
    raw_summary = str(entry.get("summary", ""))
    if not raw_body:
        raw_body = raw_summary
    title_detail = entry.get("title_detail") or {}
    title = str(entry.get("title", ""))
    if "html" not in title_detail.get("type", "text/html"):
        title = html.escape(title)  # plain text: keep a literal "<" as text
    tags = [str(t.get("label") or t.get("term") or "") for t in entry.get("tags", [])]
    author_detail = entry.get("author_detail") or {}
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    return make_article(
        where=where,
        guid=_scoped_guid(str(entry.get("id", "")), feed_link),
        url=link or http_url(feed_link),
        title=title,
        body_html=raw_body,
        summary=raw_summary if raw_summary != raw_body else "",
        author=str(author_detail.get("name") or entry.get("author", "")),
        image_url=_feed_image(entry),
        published=from_struct_time(stamp) if stamp else None,
        categories=list(categories) or tags,
        now=now,
        base=link or feed_link,
        id_url=link,
    )


def _scoped_guid(guid: str, feed_link: str) -> str:
    guid = guid.strip()
    if guid and ":" not in guid and feed_link:
        # A GUID that is not a URI or tag: is only unique within its own feed.
        return f"{feed_link}#{guid}"
    return guid


def _feed_image(entry: Mapping[str, Any]) -> str:
    candidates = [m.get("url", "") for m in entry.get("media_thumbnail", [])]
    candidates += [
        m.get("url", "")
        for m in entry.get("media_content", [])
        if m.get("medium") == "image" or str(m.get("type", "")).startswith("image/")
    ]
    candidates += [
        link.get("href", "")
        for link in entry.get("links", [])
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
    ]
    return next((u for u in map(http_url, candidates) if u), "")


# -- JSON Feed ------------------------------------------------------------------------------


def parse_json_feed(
    data: bytes, *, source: str, now: datetime, categories: Sequence[str] = ()
) -> list[Article]:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org) -> Articles."""
    try:
        feed = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{source}: not a feed (invalid JSON: {e})") from e
    if not isinstance(feed, dict) or not str(feed.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise InputError(f"{source}: not a feed (no JSON Feed 'version')")
    items = feed.get("items")
    if not isinstance(items, list):
        raise InputError(f"{source}: field 'items': expected a list")
    feed_link = http_url(str(feed.get("home_page_url") or ""))
    return [
        _item_article(
            item, f"{source}: item {number}", feed_link=feed_link, now=now, categories=categories
        )
        for number, item in enumerate(items, 1)
    ]


def _item_article(
    item: Any, where: str, *, feed_link: str, now: datetime, categories: Sequence[str]
) -> Article:
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected a JSON object")
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    names = [str(a.get("name", "")) for a in authors if isinstance(a, dict)]
    date_text = item.get("date_published") or item.get("date_modified")
    published = parse_field_date(date_text, where, "date_published") if date_text else None
    body = str(item.get("content_html") or "")
    if not body and item.get("content_text"):
        paragraphs = str(item["content_text"]).split("\n\n")
        body = "".join(f"<p>{html.escape(p.strip())}</p>" for p in paragraphs if p.strip())
    link = resolve_url(feed_link, str(item.get("url") or ""))
    tags = item.get("tags") or []
    return make_article(
        where=where,
        guid=_scoped_guid(str(item.get("id") or ""), feed_link),
        url=link or feed_link,
        title=str(item.get("title") or ""),
        body_html=body,
        summary=str(item.get("summary") or ""),
        author=", ".join(n for n in names if n),
        image_url=str(item.get("image") or ""),
        published=published,
        now=now,
        base=link or feed_link,
        id_url=link,
        categories=list(categories) or [str(t) for t in tags],
    )
