"""`digest articles ...` and `digest categories ...` through the real CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.store import open_db

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel("2026-11-28T08:00:00Z", tick=False):
        yield


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Invoke the CLI against a fresh database, with the fixtures copied into the current
    folder so that sources print as short names."""
    monkeypatch.chdir(tmp_path)
    for path in FIXTURES.iterdir():
        shutil.copy(path, tmp_path / path.name)
    db = tmp_path / "digest.db"
    open_db(db).close()  # what `digest init` does

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)

    return invoke


def test_import_reports_per_source_and_reimport_adds_nothing(run: Invoke) -> None:
    result = run("articles", "import", "rss2.xml", "atom.xml", "jsonfeed.json", "rss1.rdf")
    assert result.exit_code == 0
    assert result.output == (
        "rss2.xml: 4 added, 0 updated, 0 unchanged\n"
        "atom.xml: 2 added, 0 updated, 0 unchanged\n"
        "jsonfeed.json: 2 added, 0 updated, 0 unchanged\n"
        "rss1.rdf: 1 added, 0 updated, 0 unchanged\n"
    )
    again = run("articles", "import", "rss2.xml", "atom.xml")
    assert again.output == (
        "rss2.xml: 0 added, 0 updated, 4 unchanged\natom.xml: 0 added, 0 updated, 2 unchanged\n"
    )


def test_changed_entry_is_updated_not_duplicated(run: Invoke, tmp_path: Path) -> None:
    run("articles", "import", "rss2.xml")
    feed = tmp_path / "rss2.xml"
    feed.write_text(
        feed.read_text().replace(
            "DOJ Takes Down Network of Darknet Opioid Distributors",
            "DOJ Takes Down Darknet Opioid Network, 179 Arrested",
        )
    )
    result = run("articles", "import", "rss2.xml")
    assert result.output == "rss2.xml: 0 added, 1 updated, 3 unchanged\n"
    listing = run("articles", "list", "--category", "Courts")
    assert listing.output == (
        "2026-11-26 14:30  7557e738b206c398  DOJ Takes Down Darknet Opioid Network, "
        "179 Arrested  [Opioid Drugs, Courts]\n"
    )


def test_failing_source_among_good_ones(run: Invoke) -> None:
    result = run(
        "articles", "import", "rss2.xml", "malformed.xml", "bad.jsonl", "missing.csv", "atom.xml"
    )
    assert result.exit_code == 1
    assert result.stdout == (
        "rss2.xml: 4 added, 0 updated, 0 unchanged\natom.xml: 2 added, 0 updated, 0 unchanged\n"
    )
    assert result.stderr == (
        "Error: malformed.xml: not a well-formed feed (line 6: unclosed token)\n"
        "Error: bad.jsonl:7: field 'published': not an ISO 8601 date: 'yesterday'\n"
        "Error: missing.csv: file not found\n"
    )
    # Nothing from the bad JSON Lines file was written, not even its six good lines.
    assert "First" not in run("articles", "list").output


def test_import_with_category_and_since(run: Invoke) -> None:
    result = run(
        "articles", "import", "rss2.xml", "--category", "Pharma Watch", "--since", "2026-11-24"
    )
    assert result.output == "rss2.xml: 3 added, 0 updated, 0 unchanged\n"
    assert run("articles", "list").output == (
        "2026-11-28 08:00  5cd04ce695234ec6  Undated update from the newsroom  [Pharma Watch]\n"
        "2026-11-26 14:30  7557e738b206c398  DOJ Takes Down Network of Darknet Opioid "
        "Distributors  [Pharma Watch]\n"
        '2026-11-24 14:00  f7e1c8f3b24d25b5  Smith & Jones settle "pill mill" claims  '
        "[Pharma Watch]\n"
    )


def test_hostile_html_never_reaches_the_database(run: Invoke) -> None:
    run("articles", "import", "rss2.xml")
    stored = json.loads(run("articles", "list", "--json").output)
    bodies = " ".join(a["body_html"] for a in stored)
    for bad in ("<script", "onclick", "javascript:", "<img", "<style", "alert("):
        assert bad not in bodies


def test_list_json(run: Invoke) -> None:
    run("articles", "import", "jsonfeed.json")
    result = run("articles", "list", "--json", "--limit", "1")
    assert result.exit_code == 0
    assert json.loads(result.output) == [
        {
            "id": "8e7e662e961c974a",
            "url": "https://news.example.com/courts/appeals-court-venue",
            "title": "Appeals court revives venue challenge in mass tort",
            "published_at": "2026-11-25T15:00:00Z",
            "categories": ["Courts"],
            "summary": "The panel sent the case back.",
            "author": "Priya Raman, Tom Ellis",
            "image_url": "https://images.example.com/courthouse.jpg",
            "image_alt": "",
            "body_html": (
                "<p>The panel sent the case back to the district court.</p><p>Read the "
                '<a href="https://news.example.com/courts/opinion.pdf" rel="noopener">'
                "opinion</a>.</p>"
            ),
        }
    ]


def test_list_empty_and_unknown_category(run: Invoke) -> None:
    assert run("articles", "list").output == "No articles.\n"
    assert run("articles", "list", "--json").output == "[]\n"
    result = run("articles", "list", "--category", "Sports")
    assert result.exit_code == 1
    assert result.stderr == "Error: unknown category 'Sports' (known: none yet)\n"


def test_bad_date_is_a_usage_error(run: Invoke) -> None:
    result = run("articles", "list", "--since", "yesterday")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: Invalid value for '--since': not an ISO 8601 date: 'yesterday' "
        "(expected YYYY-MM-DD or e.g. 2026-11-28T09:30:00Z)\n"
    )


def test_add(run: Invoke) -> None:
    args = (
        "articles",
        "add",
        "--title",
        "Court Upholds Opioid Verdict",
        "--url",
        "https://news.example.com/courts/opioid-verdict",
        "--category",
        "Courts",
        "--category",
        "Opioid Drugs",
        "--summary",
        "The verdict stands.",
        "--published",
        "2026-11-27T10:00:00-05:00",
        "--author",
        "Jane Whitfield",
    )
    assert run(*args).output == "Added article 25125d76e4022ba7: Court Upholds Opioid Verdict\n"
    assert run(*args).output == (
        "Unchanged article 25125d76e4022ba7: Court Upholds Opioid Verdict\n"
    )
    edited = [*args[:3], "Court Upholds $2M Opioid Verdict", *args[4:]]
    assert run(*edited).output == (
        "Updated article 25125d76e4022ba7: Court Upholds $2M Opioid Verdict\n"
    )
    assert run("articles", "list").output == (
        "2026-11-27 15:00  25125d76e4022ba7  Court Upholds $2M Opioid Verdict  "
        "[Courts, Opioid Drugs]\n"
    )
    bad = run("articles", "add", "--title", "T", "--url", "ftp://x/y", "--category", "Courts")
    assert bad.exit_code == 1
    assert bad.stderr == "Error: articles add: field 'url': not an http(s) URL: 'ftp://x/y'\n"


def test_categories(run: Invoke) -> None:
    assert run("categories", "list").output == (
        "No categories yet (import articles or run `digest categories add NAME`).\n"
    )
    assert (
        run(
            "categories", "add", "Opioid Drugs", "--description", "Prescribing and trafficking"
        ).output
        == "Added category Opioid Drugs (opioid-drugs)\n"
    )
    assert run("categories", "add", "opioid drugs").output == (
        "Category Opioid Drugs (opioid-drugs) already exists\n"
    )
    run("articles", "import", "rss2.xml")
    assert run("categories", "list").output == (
        "CATEGORY      ARTICLES  SUBSCRIBERS  DESCRIPTION\n"
        "Opioid Drugs         4            0  Prescribing and trafficking\n"
        "Courts               1            0\n"
    )
    assert json.loads(run("categories", "list", "--json").output) == [
        {
            "id": 1,
            "slug": "opioid-drugs",
            "name": "Opioid Drugs",
            "description": "Prescribing and trafficking",
            "article_count": 4,
            "subscriber_count": 0,
        },
        {
            "id": 2,
            "slug": "courts",
            "name": "Courts",
            "description": "",
            "article_count": 1,
            "subscriber_count": 0,
        },
    ]


def test_help_has_examples(run: Invoke) -> None:
    for command in (
        ["articles", "import"],
        ["articles", "add"],
        ["articles", "list"],
        ["categories", "list"],
        ["categories", "add"],
    ):
        result = run(*command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output
