"""digest.ingest.sniff: which parser reads a source."""

from __future__ import annotations

import pytest

from digest.ingest import Format, is_url, sniff_file, sniff_response


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("a.jsonl", b"{}", Format.JSONL),
        ("a.NDJSON", b"", Format.JSONL),
        ("a.csv", b"url,title", Format.CSV),
        ("a.json", b"", Format.JSON_FEED),
        ("feed", b'  {"version": "https://jsonfeed.org/version/1.1"}', Format.JSON_FEED),
        ("feed.xml", b"<rss/>", Format.FEED),
        ("feed", b"", Format.FEED),
    ],
)
def test_sniff_file(name: str, data: bytes, kind: Format) -> None:
    assert sniff_file(name, data) is kind


@pytest.mark.parametrize(
    ("data", "content_type", "kind"),
    [
        (b"", "application/feed+json; charset=utf-8", Format.JSON_FEED),
        (b"\n{", "text/plain", Format.JSON_FEED),
        (b"<rss/>", "application/rss+xml", Format.FEED),
        (b"<feed/>", "", Format.FEED),
    ],
)
def test_sniff_response(data: bytes, content_type: str, kind: Format) -> None:
    assert sniff_response(data, content_type) is kind


def test_is_url() -> None:
    assert is_url("HTTPS://example.com/feed")
    assert is_url("http://example.com/feed")
    assert not is_url("feed.xml")
    assert not is_url("ftp://example.com/feed")
