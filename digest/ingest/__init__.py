"""Feeds and files -> Articles.

``load_source(source, now=...)`` reads one SOURCE: an http(s) feed URL, or a file holding
RSS 0.9x/1.0/2.0, Atom, JSON Feed, JSON Lines (``.jsonl``) or CSV (``.csv``). It validates the
whole source and returns its articles, or raises one :class:`InputError` naming the source and
the place (``articles.jsonl:7: field 'published': ...``), so nothing is half-imported.

Everything from outside is untrusted: bodies are sanitised with nh3 to a small allowlist,
titles and summaries are plain text. Ingest is pure (values in, values out); the caller
stores the articles (:mod:`digest.store.articles`).

One concern a module: :mod:`.fetch` (HTTP and files, with their limits), :mod:`.sniff`
(which format), :mod:`.feeds` (RSS, Atom, JSON Feed), :mod:`.records` (JSON Lines, CSV, and
building each Article), :mod:`.sanitize` (HTML and text), :mod:`.dates`, and :mod:`.source`
(one source end to end).
"""

from __future__ import annotations

from digest.ingest.dates import parse_date
from digest.ingest.feeds import parse_feed, parse_json_feed
from digest.ingest.fetch import FETCH_DEADLINE, FETCH_TIMEOUT, MAX_FEED_BYTES, fetch, read_file
from digest.ingest.records import (
    RECORD_FIELDS,
    article_id,
    articles_from_records,
    csv_records,
    jsonl_records,
    make_article,
)
from digest.ingest.sanitize import SUMMARY_LENGTH, plain_text, sanitize_html, truncate
from digest.ingest.sniff import Format, is_url, sniff_file, sniff_response
from digest.ingest.source import load_source

__all__ = [
    "FETCH_DEADLINE",
    "FETCH_TIMEOUT",
    "MAX_FEED_BYTES",
    "RECORD_FIELDS",
    "SUMMARY_LENGTH",
    "Format",
    "article_id",
    "articles_from_records",
    "csv_records",
    "fetch",
    "is_url",
    "jsonl_records",
    "load_source",
    "make_article",
    "parse_date",
    "parse_feed",
    "parse_json_feed",
    "plain_text",
    "read_file",
    "sanitize_html",
    "sniff_file",
    "sniff_response",
    "truncate",
]
