"""Flat records (JSON Lines, CSV, the sample data, `articles add`) -> Articles, and the one
place any source's fields become a sanitised :class:`~digest.models.Article` with a stable id.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from digest.errors import InputError
from digest.ingest.dates import parse_field_date
from digest.ingest.sanitize import SUMMARY_LENGTH, http_url, plain_text, sanitize_html, truncate
from digest.models import Article

ID_LENGTH = 16  # hex digits: 64 bits, ample for one site's articles
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


# -- JSON Lines and CSV files of articles ---------------------------------------------------


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 (with or without a byte-order mark), or an error naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{source}: not UTF-8 text (byte {e.start})") from e


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
            if values[name] and not http_url(values[name]):
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
                published=parse_field_date(values["published"], where, "published"),
                categories=names,
                now=now,
                base=values["url"],
                id_url=values["url"],
            )
        )
    return unique(articles)


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
        image_url=http_url(image_url),
        image_alt=plain_text(image_alt),
        guid=guid.strip(),
    )


def article_id(guid: str, url: str, content: str) -> str:
    """Stable id: from the GUID, else the link, else the content, so a re-import of the same
    entry finds the same row."""
    key = guid.strip() or url.strip() or "content:" + content
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:ID_LENGTH]


def unique(articles: list[Article]) -> list[Article]:
    """First occurrence of each id: a source that repeats an entry imports it once."""
    seen: dict[str, Article] = {}
    for article in articles:
        seen.setdefault(article.id, article)
    return list(seen.values())
