"""digest.ingest.feeds: RSS 1.0/2.0, Atom and JSON Feed, their ids, dates and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import InputError
from digest.ingest import article_id, load_source

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
        ("malformed.xml", "malformed.xml: not a well-formed feed (line 6: unclosed token)"),
        ("not-a-feed.html", "not-a-feed.html: not a feed (no RSS, Atom or JSON Feed found)"),
    ],
)
def test_bad_sources(name: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        load(name)
    assert str(info.value) == f"{FIXTURES}/{message}"


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
