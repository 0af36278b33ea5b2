"""Feeds and files -> Articles.

``load_source(source, now=...)`` reads one SOURCE: an http(s) feed URL, or a file holding
RSS 0.9x/1.0/2.0, Atom, JSON Feed, JSON Lines (``.jsonl``) or CSV (``.csv``). It validates the
whole source and returns its articles, or raises one :class:`InputError` naming the source and
the place (``articles.jsonl:7: field 'published': ...``), so nothing is half-imported.

Everything from outside is untrusted: bodies are sanitised with nh3 to a small allowlist,
titles and summaries are plain text. Writing to the database is :mod:`digest.store.articles`.
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import html
import io
import json
import re
import urllib.error
import urllib.request
import xml.sax
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import nh3

from digest import __version__
from digest.errors import InputError
from digest.models import Article

FETCH_TIMEOUT = 30.0
MAX_FEED_BYTES = 20 * 1024 * 1024
SUMMARY_LENGTH = 300
ID_LENGTH = 16  # hex digits: 64 bits, ample for one site's articles

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
RECORD_FIELDS = (
    "id",
    "url",
    "title",
    "summary",
    "body_html",
    "author",
    "image",
    "image_alt",
    "published",
    "categories",
)
CSV_REQUIRED = ("url", "title", "published")
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


# -- reading a source ---------------------------------------------------------------------


def load_source(
    source: str,
    *,
    now: datetime,
    categories: Sequence[str] = (),
    since: datetime | None = None,
    timeout: float = FETCH_TIMEOUT,
) -> list[Article]:
    """Every article in ``source`` (a feed URL or a file path), validated as a whole.

    ``categories`` replaces the entries' own category tags (a feed that is all one category);
    ``since`` drops entries published before it; entries without a date get ``now``.
    """
    if is_url(source):
        data, content_type = fetch(source, timeout=timeout)
        base = source
        kind = "json" if "json" in content_type or data.lstrip()[:1] == b"{" else "feed"
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"{source}: file not found") from None
        except OSError as e:
            raise InputError(f"{source}: cannot read ({e.strerror or e})") from e
        base = ""
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".ndjson"):
            kind = "jsonl"
        elif suffix == ".csv":
            kind = "csv"
        elif suffix == ".json" or data.lstrip()[:1] == b"{":
            kind = "json"
        else:
            kind = "feed"
    if kind == "jsonl":
        articles = articles_from_records(
            jsonl_records(_decode(data, source), source),
            source=source,
            now=now,
            categories=categories,
        )
    elif kind == "csv":
        articles = articles_from_records(
            csv_records(_decode(data, source), source),
            source=source,
            now=now,
            categories=categories,
        )
    elif kind == "json":
        articles = parse_json_feed(data, source=source, now=now, categories=categories)
    else:
        articles = parse_feed(data, source=source, now=now, categories=categories, base=base)
    return [a for a in _unique(articles) if since is None or a.published_at >= since]


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def fetch(url: str, *, timeout: float = FETCH_TIMEOUT) -> tuple[bytes, str]:
    """GET ``url``; returns the body and its Content-Type. Fetched here rather than by
    feedparser so that a timeout applies and HTTP errors become one-line InputErrors."""
    request = urllib.request.Request(url, headers={"User-Agent": f"digest/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: bytes = response.read(MAX_FEED_BYTES + 1)
            content_type = str(response.headers.get("Content-Type", ""))
    except urllib.error.HTTPError as e:
        raise InputError(f"{url}: cannot fetch (HTTP {e.code})") from e
    except urllib.error.URLError as e:
        raise InputError(f"{url}: cannot fetch ({e.reason})") from e
    except TimeoutError as e:
        raise InputError(f"{url}: cannot fetch (no answer within {timeout:g} s)") from e
    except OSError as e:
        raise InputError(f"{url}: cannot fetch ({e})") from e
    if len(data) > MAX_FEED_BYTES:
        raise InputError(f"{url}: cannot fetch (larger than {MAX_FEED_BYTES // 2**20} MB)")
    return data, content_type.lower()


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{source}: not UTF-8 text (byte {e.start})") from e


# -- RSS and Atom ---------------------------------------------------------------------------


def parse_feed(
    data: bytes, *, source: str, now: datetime, categories: Sequence[str] = (), base: str = ""
) -> list[Article]:
    """RSS 0.9x/1.0/2.0 or Atom bytes -> Articles (via feedparser)."""
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
    articles = []
    for number, entry in enumerate(parsed.entries, 1):
        where = f"{source}: entry {number}"
        link = _resolve(feed_link, str(entry.get("link", "")))
        guid = str(entry.get("id", "")).strip()
        if guid and ":" not in guid and feed_link:
            # A GUID that is not a URI or tag: is only unique within its own feed.
            guid = f"{feed_link}#{guid}"
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
        author = str(author_detail.get("name") or entry.get("author", ""))
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else None
        articles.append(
            make_article(
                where=where,
                guid=guid,
                url=link or _http_url(feed_link),
                title=title,
                body_html=raw_body,
                summary=raw_summary if raw_summary != raw_body else "",
                author=author,
                image_url=_feed_image(entry),
                published=published,
                categories=list(categories) or tags,
                now=now,
                base=link or feed_link,
                id_url=link,
            )
        )
    return articles


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
    return next((u for u in map(_http_url, candidates) if u), "")


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
    feed_link = _http_url(str(feed.get("home_page_url") or ""))
    articles = []
    for number, item in enumerate(items, 1):
        where = f"{source}: item {number}"
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected a JSON object")
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        names = [str(a.get("name", "")) for a in authors if isinstance(a, dict)]
        date_text = item.get("date_published") or item.get("date_modified")
        published = _parse_field_date(date_text, where, "date_published") if date_text else None
        body = str(item.get("content_html") or "")
        if not body and item.get("content_text"):
            paragraphs = str(item["content_text"]).split("\n\n")
            body = "".join(f"<p>{html.escape(p.strip())}</p>" for p in paragraphs if p.strip())
        link = _resolve(feed_link, str(item.get("url") or ""))
        guid = str(item.get("id") or "").strip()
        if guid and ":" not in guid and feed_link:
            guid = f"{feed_link}#{guid}"
        tags = item.get("tags") or []
        articles.append(
            make_article(
                where=where,
                guid=guid,
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
        )
    return articles


# -- JSON Lines and CSV files of articles ---------------------------------------------------


def jsonl_records(text: str, source: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """(where, record) for each non-blank line; ``where`` is ``file:line``."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from e
        if not isinstance(record, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(record).__name__}")
        yield where, record


def csv_records(text: str, source: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """(where, record) for each row; the header names the fields (see RECORD_FIELDS)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in CSV_REQUIRED if name not in header]
    if missing:
        raise InputError(
            f"{source}:1: missing column {missing[0]!r} "
            f"(header must include {', '.join(CSV_REQUIRED)})"
        )
    unknown = [name for name in header if name not in RECORD_FIELDS]
    if unknown:
        raise InputError(
            f"{source}:1: unknown column {unknown[0]!r} (known: {', '.join(RECORD_FIELDS)})"
        )
    reader.fieldnames = header
    line = reader.line_num
    for row in reader:
        where = f"{source}:{line + 1}"  # the row's first line, even if a field spans lines
        line = reader.line_num
        if None in row:
            raise InputError(f"{where}: more fields than the header has")
        yield where, {k: v for k, v in row.items() if v not in (None, "")}


def articles_from_records(
    records: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    source: str,
    now: datetime,
    categories: Sequence[str] = (),
) -> list[Article]:
    """Articles from flat records (JSON Lines, CSV, the sample data, `articles add`).

    Fields: url, title, published (ISO 8601) and categories (a list or a ';'-separated
    string) are required; id, summary, body_html, author, image, image_alt are optional."""
    articles = []
    for where, record in records:
        unknown = [k for k in record if k not in RECORD_FIELDS]
        if unknown:
            raise InputError(
                f"{where}: unknown field {unknown[0]!r} (known: {', '.join(RECORD_FIELDS)})"
            )
        values = {k: _text_field(record, k, where) for k in RECORD_FIELDS if k != "categories"}
        for name in ("url", "title", "published"):
            if not values[name]:
                raise InputError(f"{where}: field {name!r}: required")
        for name in ("url", "image"):
            if values[name] and not _http_url(values[name]):
                raise InputError(f"{where}: field {name!r}: not an http(s) URL: {values[name]!r}")
        names = list(categories) or _categories_field(record.get("categories"), where)
        if not names:
            raise InputError(f"{where}: field 'categories': required (or pass --category)")
        articles.append(
            make_article(
                where=where,
                guid=values["id"],
                url=values["url"],
                title=values["title"],
                body_html=values["body_html"],
                summary=values["summary"],
                author=values["author"],
                image_url=values["image"],
                image_alt=values["image_alt"],
                published=_parse_field_date(values["published"], where, "published"),
                categories=names,
                now=now,
                base=values["url"],
                id_url=values["url"],
            )
        )
    return _unique(articles)


def _text_field(record: Mapping[str, Any], name: str, where: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{where}: field {name!r}: expected a string, got {value!r}")
    return value.strip()


def _categories_field(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.split(";") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v.strip()]
    raise InputError(
        f"{where}: field 'categories': expected a list of names or a ';'-separated string"
    )


# -- building one article -------------------------------------------------------------------


def make_article(
    *,
    where: str,
    guid: str,
    url: str,
    title: str,
    published: datetime | None,
    categories: Sequence[str],
    now: datetime,
    body_html: str = "",
    summary: str = "",
    author: str = "",
    image_url: str = "",
    image_alt: str = "",
    base: str = "",
    id_url: str | None = None,
) -> Article:
    """One sanitised Article. ``where`` names it in errors; ``base`` resolves relative links
    in the body; ``id_url`` is the link used for the id when there is no GUID."""
    clean_title = plain_text(title)
    if not clean_title:
        raise InputError(f"{where}: field 'title': required")
    names = tuple(dict.fromkeys(" ".join(c.split()) for c in categories if c.strip()))
    if not names:
        raise InputError(
            f"{where} ({clean_title[:40]!r}): no category (tag the entries or pass --category)"
        )
    body = sanitize_html(body_html, base=base)
    summary_text = plain_text(summary) or plain_text(body)
    # Nothing published "in the future": a bogus or scheduled date would hold the article
    # back from every digest until then. Undated entries count as published on import.
    stamp = min(published, now) if published else now
    return Article(
        id=article_id(guid, url if id_url is None else id_url, clean_title + "\0" + body),
        url=url,
        title=clean_title,
        published_at=stamp.astimezone(UTC).replace(microsecond=0),
        categories=names,
        summary=truncate(summary_text, SUMMARY_LENGTH),
        body_html=body,
        author=plain_text(author),
        image_url=_http_url(image_url),
        image_alt=plain_text(image_alt),
        guid=guid.strip(),
    )


def article_id(guid: str, url: str, content: str) -> str:
    """Stable id: from the GUID, else the link, else the content, so a re-import of the same
    entry finds the same row."""
    key = guid.strip() or url.strip() or "content:" + content
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:ID_LENGTH]


def _unique(articles: list[Article]) -> list[Article]:
    """First occurrence of each id: a source that repeats an entry imports it once."""
    seen: dict[str, Article] = {}
    for article in articles:
        seen.setdefault(article.id, article)
    return list(seen.values())


# -- HTML and text --------------------------------------------------------------------------


def sanitize_html(value: str, *, base: str = "") -> str:
    """Untrusted HTML -> a small allowlist safe in email: no scripts, styles, event handlers
    or images; links absolute http(s) only (relative ones resolved against ``base``)."""
    if not value.strip():
        return ""

    def keep_attribute(tag: str, attribute: str, url: str) -> str | None:
        if tag == "a" and attribute == "href":
            return _resolve(base, url) or None
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


def _resolve(base: str, href: str) -> str:
    """``href`` made absolute against ``base``; "" unless that gives an http(s) URL. An empty
    href stays empty: urljoin would turn it into the base itself."""
    href = href.strip()
    return _http_url(urljoin(base, href)) if href else ""


def _http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else ""


# -- dates ----------------------------------------------------------------------------------

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(value: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 date-time (UTC if no offset) -> aware
    UTC. Raises ValueError with a short reason."""
    text = value.strip()
    try:
        if _DATE_ONLY.match(text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _parse_field_date(value: Any, where: str, name: str) -> datetime:
    if not isinstance(value, str):
        raise InputError(f"{where}: field {name!r}: not an ISO 8601 date: {value!r}")
    try:
        return parse_date(value)
    except ValueError as e:
        raise InputError(f"{where}: field {name!r}: {e}") from None
