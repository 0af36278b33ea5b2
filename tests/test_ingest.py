"""digest.ingest: every supported format, ids, sanitising, dates and one-line errors."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from digest.errors import InputError
from digest.ingest import (
    article_id,
    load_source,
    parse_date,
    plain_text,
    sanitize_html,
    truncate,
)

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def load(name: str, **kwargs: object) -> list:  # type: ignore[type-arg]
    return load_source(str(FIXTURES / name), now=NOW, **kwargs)  # type: ignore[arg-type]


def test_rss2_entries() -> None:
    articles = load("rss2.xml")
    assert [a.title for a in articles] == [
        "DOJ Takes Down Network of Darknet Opioid Distributors",
        'Smith & Jones settle "pill mill" claims',
        "Pharmacy chain fined over opioid dispensing records",
        "Undated update from the newsroom",
    ]
    first = articles[0]
    assert first.id == article_id("urn:legal-reader:article:1001", "", "")
    assert first.url == "https://news.example.com/opioids/doj-darknet-takedown"
    assert first.categories == ("Opioid Drugs", "Courts")
    assert first.author == "Jane Whitfield"
    assert first.image_url == "https://images.example.com/darknet.jpg"
    assert first.published_at == datetime(2026, 11, 26, 14, 30, tzinfo=UTC)
    assert first.body_html == (
        "<p>The DOJ made 179 arrests in a worldwide operation against <em>darknet</em> "
        "opioid traffickers.</p>"
    )
    assert first.summary == (
        "The DOJ made 179 arrests in a worldwide operation against darknet opioid traffickers."
    )
    # Offsets are converted to UTC.
    assert articles[1].published_at == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    # A bare-text description becomes a paragraph.
    assert articles[2].body_html == (
        "<p>A regional chain will pay a civil penalty for incomplete dispensing records.</p>"
    )


def test_guid_that_is_not_a_uri_is_scoped_to_its_feed() -> None:
    articles = load("rss2.xml")
    assert articles[1].id == article_id("https://news.example.com/#1002", "", "")


def test_no_guid_falls_back_to_link_then_content_hash() -> None:
    articles = load("rss2.xml")
    by_link = articles[2]
    assert by_link.id == article_id("", "https://news.example.com/opioids/pharmacy-fine", "")
    no_link = articles[3]
    assert no_link.id == article_id(
        "", "", "Undated update from the newsroom\0<p>An entry with neither a GUID nor a link.</p>"
    )
    # The link shown to readers falls back to the site's home page.
    assert no_link.url == "https://news.example.com/"
    # And an undated entry counts as published when imported.
    assert no_link.published_at == NOW


def test_ids_are_stable_across_parses() -> None:
    assert [a.id for a in load("rss2.xml")] == [a.id for a in load("rss2.xml")]


def test_hostile_html_is_removed() -> None:
    body = load("rss2.xml")[1].body_html
    assert body == (
        '<p>Two clinic owners agreed to pay $4 million. <a rel="noopener">Click</a> or read the '
        '<a href="https://news.example.com/documents/settlement.pdf" rel="noopener">'
        "settlement</a>.</p>"
    )


def test_sanitize_html_directly() -> None:
    hostile = (
        '<p onclick="steal()" style="color:red">Hi <a href="javascript:alert(1)">x</a>'
        '<a href="//evil.example/">y</a> <a href="data:text/html,hi">z</a>'
        "<script>alert(1)</script><iframe src=https://evil.example></iframe>"
        '<img src=x onerror=alert(1)><strong class="big">ok</strong></p>'
    )
    assert sanitize_html(hostile, base="https://news.example.com/a") == (
        '<p>Hi <a rel="noopener">x</a><a href="https://evil.example/" rel="noopener">y</a> '
        '<a rel="noopener">z</a><strong>ok</strong></p>'
    )
    # Relative links without a base cannot be made absolute, so they are dropped.
    assert sanitize_html('<a href="/x">x</a>') == '<a rel="noopener">x</a>'
    assert sanitize_html("<script>only()</script>") == ""


def test_atom() -> None:
    articles = load("atom.xml")
    lounger, bike = articles
    assert lounger.title == "Recall: infant loungers linked to suffocation risk"
    assert lounger.categories == ("Consumer Safety",)  # label preferred over term
    assert lounger.summary == "Regulators warn parents to stop using the loungers at once."
    assert lounger.body_html.startswith("<h2>What was recalled</h2><p>About 90,000")
    assert lounger.published_at == datetime(2026, 11, 27, 13, 15, tzinfo=UTC)
    assert lounger.author == "Marcus Hale"
    # No <published>: the <updated> date is used.
    assert bike.published_at == datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    assert bike.categories == ("Consumer Safety", "Product Liability")
    assert bike.summary == (
        "Lithium-ion packs sold without certification have caused dozens of fires."
    )


def test_rss1() -> None:
    [article] = load("rss1.rdf")
    assert article.title == "Overtime rule challenge heads to the Fifth Circuit"
    assert article.categories == ("Employment Law",)
    assert article.author == "Ana Ortiz"
    assert article.published_at == datetime(2026, 11, 22, 11, 0, tzinfo=UTC)


def test_json_feed() -> None:
    venue, jury = load("jsonfeed.json")
    assert venue.id == article_id("https://news.example.com/courts/appeals-court-venue", "", "")
    assert venue.author == "Priya Raman, Tom Ellis"
    assert venue.image_url == "https://images.example.com/courthouse.jpg"
    assert venue.summary == "The panel sent the case back."
    assert 'href="https://news.example.com/courts/opinion.pdf"' in venue.body_html
    assert jury.id == article_id("https://news.example.com/courts/#3002", "", "")
    assert jury.categories == ("Courts", "Medical Malpractice")
    assert jury.body_html == (
        "<p>The judge agreed the instructions were confusing.</p>"
        "<p>A new set goes to the jury on Monday.</p>"
    )
    assert jury.published_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


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


def test_category_option_replaces_tags() -> None:
    articles = load("rss2.xml", categories=["Pharma Watch"])
    assert {a.categories for a in articles} == {("Pharma Watch",)}


def test_since_skips_older_entries() -> None:
    articles = load("rss2.xml", since=datetime(2026, 11, 24, tzinfo=UTC))
    assert [a.title for a in articles] == [
        "DOJ Takes Down Network of Darknet Opioid Distributors",
        'Smith & Jones settle "pill mill" claims',
        "Undated update from the newsroom",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad.jsonl", "bad.jsonl:7: field 'published': not an ISO 8601 date: 'yesterday'"),
        ("malformed.xml", "malformed.xml: not a well-formed feed (line 6: unclosed token)"),
        ("not-a-feed.html", "not-a-feed.html: not a feed (no RSS, Atom or JSON Feed found)"),
        ("missing.xml", "missing.xml: file not found"),
    ],
)
def test_bad_sources(name: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        load(name)
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


def test_feed_without_categories_needs_the_option(tmp_path: Path) -> None:
    path = tmp_path / "plain.xml"
    path.write_text(
        '<rss version="2.0"><channel><title>T</title><link>https://x.example/</link>'
        "<item><title>Untagged</title><link>https://x.example/1</link></item>"
        "</channel></rss>"
    )
    with pytest.raises(InputError) as info:
        load_source(str(path), now=NOW)
    assert str(info.value) == (
        f"{path}: entry 1 ('Untagged'): no category (tag the entries or pass --category)"
    )
    [article] = load_source(str(path), now=NOW, categories=["Courts"])
    assert article.categories == ("Courts",)


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


@pytest.fixture
def server() -> Iterator[str]:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(FIXTURES))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_feed_url(server: str) -> None:
    articles = load_source(f"{server}/rss2.xml", now=NOW)
    assert [a.id for a in articles] == [a.id for a in load("rss2.xml")]
    assert [a.title for a in load_source(f"{server}/jsonfeed.json", now=NOW)] == [
        "Appeals court revives venue challenge in mass tort",
        "Judge rewrites jury instructions after objection",
    ]


def test_feed_url_errors(server: str) -> None:
    with pytest.raises(InputError) as info:
        load_source(f"{server}/nothing.xml", now=NOW)
    assert str(info.value) == f"{server}/nothing.xml: cannot fetch (HTTP 404)"
    with pytest.raises(InputError, match=r"^http://127\.0\.0\.1:1/feed: cannot fetch \("):
        load_source("http://127.0.0.1:1/feed", now=NOW, timeout=5)


def test_plain_text_and_truncate() -> None:
    assert plain_text("<p>Smith &amp; Jones</p><p>said &quot;no&quot;</p>") == (
        'Smith & Jones said "no"'
    )
    assert plain_text("A < B & C") == "A < B & C"
    assert plain_text("<style>p{}</style>Text<script>x()</script>") == "Text"
    words = "word " * 100
    short = truncate(words.strip(), 30)
    assert short == "word word word word word word…"
    assert len(short) <= 30
    assert truncate("short", 30) == "short"


def test_parse_date() -> None:
    assert parse_date("2026-11-28") == datetime(2026, 11, 28, tzinfo=UTC)
    assert parse_date("2026-11-28T09:30:00+01:00") == datetime(2026, 11, 28, 8, 30, tzinfo=UTC)
    assert parse_date("2026-11-28T09:30:00Z") == datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    assert parse_date("2026-11-28 09:30") == datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="not an ISO 8601 date: 'yesterday'"):
        parse_date("yesterday")
