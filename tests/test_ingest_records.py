"""digest.ingest.records: JSON Lines and CSV files of articles, and building each Article."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import InputError
from digest.ingest import article_id, load_source
from digest.models import Article

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def load(name: str) -> list[Article]:
    return load_source(str(FIXTURES / name), now=NOW)


def test_jsonl_and_csv() -> None:
    pfas, flaring = load("articles.jsonl")
    assert pfas.image_alt == "A water treatment plant"
    assert flaring.categories == ("Environmental", "Courts")
    assert flaring.id == article_id("lr-4002", "", "")
    assert flaring.published_at == datetime(2026, 11, 21, tzinfo=UTC)
    sponge, noncompete = load("articles.csv")
    assert sponge.title == "Retained surgical sponge verdict: $2.1 million"
    assert sponge.summary == "A jury found the hospital negligent, after a three-week trial."
    assert noncompete.categories == ("Employment Law", "Courts")
    assert noncompete.image_url == "https://images.example.com/gavel.jpg"


def test_bad_source() -> None:
    with pytest.raises(InputError) as info:
        load("bad.jsonl")
    message = "bad.jsonl:7: field 'published': not an ISO 8601 date: 'yesterday'"
    assert str(info.value) == f"{FIXTURES}/{message}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "{not json\n",
            "a.jsonl:1: not valid JSON (Expecting property name enclosed in "
            "double quotes at column 2)",
        ),
        ("[1]\n", "a.jsonl:1: expected a JSON object, got list"),
        (
            '{"title": "T", "published": "2026-11-01", "categories": "C"}\n',
            "a.jsonl:1: field 'url': required",
        ),
        (
            '{"url": "ftp://x/y", "title": "T", "published": "2026-11-01", "categories": "C"}\n',
            "a.jsonl:1: field 'url': not an http(s) URL: 'ftp://x/y'",
        ),
        (
            '{"url": "https://x/y", "title": "T", "published": "2026-11-01"}\n',
            "a.jsonl:1: field 'categories': required (or pass --category)",
        ),
        (
            '{"url": "https://x/y", "title": "T", "published": "2026-11-01", "categories": 3}\n',
            "a.jsonl:1: field 'categories': expected a list of names or a ';'-separated string",
        ),
        (
            '{"url": "https://x/y", "titel": "T"}\n',
            "a.jsonl:1: unknown field 'titel' (known: id, url, title, summary, body_html, "
            "author, image, image_alt, published, categories)",
        ),
    ],
)
def test_bad_jsonl_lines(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        load_source(str(path), now=NOW)
    assert str(info.value) == f"{tmp_path}/{message}"


def test_bad_csv(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("url,title\nhttps://x/y,T\n")
    with pytest.raises(InputError, match=r"a\.csv:1: missing column 'published'"):
        load_source(str(path), now=NOW)
    path.write_text(
        'url,title,published,categories\nhttps://x/a,"A\nsplit title",2026-11-01,C\n'
        "https://x/b,B,soon,C\n"
    )
    with pytest.raises(InputError) as info:
        load_source(str(path), now=NOW)
    # The line number counts the physical line the row starts on.
    assert str(info.value) == f"{path}:4: field 'published': not an ISO 8601 date: 'soon'"


def test_future_dates_are_clamped_to_import_time(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"url": "https://x/y", "title": "T", "published": "2027-01-01", "categories": "C"}\n'
    )
    [article] = load_source(str(path), now=NOW)
    assert article.published_at == NOW


def test_repeated_entries_are_imported_once(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    line = '{"url": "https://x/y", "title": "T", "published": "2026-11-01", "categories": "C"}\n'
    path.write_text(line * 3)
    assert len(load_source(str(path), now=NOW)) == 1
