"""Which parser reads a source: from a file's name or a response's Content-Type, and the
first byte of its content."""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePath


class Format(StrEnum):
    FEED = "feed"  # RSS or Atom: feedparser tells them apart
    JSON_FEED = "json"
    JSONL = "jsonl"
    CSV = "csv"


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def sniff_response(data: bytes, content_type: str) -> Format:
    """A fetched feed is RSS/Atom or JSON Feed; files of records are imported from disk."""
    if "json" in content_type.lower() or _starts_an_object(data):
        return Format.JSON_FEED
    return Format.FEED


def sniff_file(name: str, data: bytes) -> Format:
    """The suffix names records (``.jsonl``, ``.ndjson``, ``.csv``); a feed is JSON Feed if
    named ``.json`` or it starts with ``{``, else RSS/Atom."""
    suffix = PurePath(name).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return Format.JSONL
    if suffix == ".csv":
        return Format.CSV
    if suffix == ".json" or _starts_an_object(data):
        return Format.JSON_FEED
    return Format.FEED


def _starts_an_object(data: bytes) -> bool:
    return data.lstrip()[:1] == b"{"
