"""One SOURCE -> its Articles: get the bytes, pick the parser, parse, drop repeats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from digest.ingest.feeds import parse_feed, parse_json_feed
from digest.ingest.fetch import FETCH_DEADLINE, FETCH_TIMEOUT, fetch, read_file
from digest.ingest.records import (
    articles_from_records,
    csv_records,
    decode_text,
    jsonl_records,
    unique,
)
from digest.ingest.sniff import Format, is_url, sniff_file, sniff_response
from digest.models import Article


def load_source(
    source: str,
    *,
    now: datetime,
    categories: Sequence[str] = (),
    since: datetime | None = None,
    timeout: float = FETCH_TIMEOUT,
    deadline: float = FETCH_DEADLINE,
) -> list[Article]:
    """Every article in ``source`` (a feed URL or a file path), validated as a whole.

    ``categories`` replaces the entries' own category tags (a feed that is all one category);
    ``since`` drops entries published before it; entries without a date get ``now``.
    ``timeout`` bounds each read of a feed URL, ``deadline`` the whole fetch (seconds).
    """
    if is_url(source):
        data, content_type = fetch(source, timeout=timeout, deadline=deadline)
        kind, base = sniff_response(data, content_type), source
    else:
        data, base = read_file(source), ""
        kind = sniff_file(source, data)
    articles = parse(kind, data, source=source, now=now, categories=categories, base=base)
    return [a for a in unique(articles) if since is None or a.published_at >= since]


def parse(
    kind: Format,
    data: bytes,
    *,
    source: str,
    now: datetime,
    categories: Sequence[str] = (),
    base: str = "",
) -> list[Article]:
    """``data`` read as ``kind``; ``source`` names it in errors, ``base`` resolves a feed's
    relative links."""
    if kind is Format.JSONL:
        records = jsonl_records(decode_text(data, source), source)
    elif kind is Format.CSV:
        records = csv_records(decode_text(data, source), source)
    elif kind is Format.JSON_FEED:
        return parse_json_feed(data, source=source, now=now, categories=categories)
    else:
        return parse_feed(data, source=source, now=now, categories=categories, base=base)
    return articles_from_records(records, source=source, now=now, categories=categories)
