"""`digest preview` and `digest templates check` through the real CLI."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from digest.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "templates"
Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel("2026-11-28T08:00:00Z", tick=False):
        yield


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """The CLI in a fresh folder with `digest init --sample` done (config with a secret key,
    sample articles and subscribers)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    monkeypatch.delenv("DIGEST_SECRET_KEY", raising=False)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    assert invoke("init", "--sample").exit_code == 0
    return invoke


def test_preview_category_html_to_file(run: Invoke, tmp_path: Path) -> None:
    result = run("preview", "--category", "Opioid Drugs", "-o", "out.html")
    assert result.exit_code == 0, result.output
    assert "Wrote out.html: 'Legal Reader weekly: " in result.output
    page = (tmp_path / "out.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "Opioid Drugs" in page and "https://news.example.com/u/" in page


def test_preview_text_to_stdout_has_no_entities(run: Invoke) -> None:
    result = run(
        "preview", "--category", "Opioid Drugs", "--category", "Courts", "--format", "text"
    )
    assert result.exit_code == 0
    # A preview of a new reader's digest: its view link names no reader (docs/email.md rule 28).
    assert result.output.startswith("View in browser:\nhttps://news.example.com/v/0.")
    assert "\n\nLegal Reader: Weekly digest" in result.output
    assert "== Opioid Drugs ==" in result.output and "== Courts ==" in result.output
    assert "&amp;" not in result.output
    assert "Unsubscribe:\nhttps://news.example.com/u/" in result.output


def test_preview_subscriber_eml_is_a_whole_message(run: Invoke, tmp_path: Path) -> None:
    import sqlite3

    email_address = (
        sqlite3.connect(tmp_path / "subscribers.db")
        .execute("select email from subscribers where status = 'active' order by id limit 1")
        .fetchone()[0]
    )
    result = run("preview", "--subscriber", email_address, "--format", "eml", "-o", "d.eml")
    assert result.exit_code == 0, result.output
    msg = email.message_from_bytes((tmp_path / "d.eml").read_bytes(), policy=email.policy.default)
    assert msg["To"].addresses[0].addr_spec == email_address
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"


def test_preview_with_nothing_new_says_so_and_fails(run: Invoke) -> None:
    result = run("preview", "--category", "Opioid Drugs", "--as-of", "2020-01-01")
    assert result.exit_code == 1
    assert (
        result.output
        == "No new articles for Opioid Drugs in the edition due 2020-01-01 00:00 UTC.\n"
    )


def test_preview_needs_exactly_one_selection(run: Invoke) -> None:
    assert run("preview").exit_code == 2
    assert run("preview", "--subscriber", "a@example.org", "--category", "Courts").exit_code == 2


def test_templates_check_passes_on_shipped_templates(run: Invoke) -> None:
    result = run("templates", "check")
    assert result.exit_code == 0, result.output
    assert "digest.mjml.j2: " in result.output and "bytes of CSS" in result.output
    assert result.output.endswith("Templates OK\n")


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("broken", "broken/digest.mjml.j2:56: "),
        ("missing_var", "missing_var/digest.mjml.j2:53: 'articel' is undefined"),
        (
            "bad_mjml",
            "bad_mjml/digest.mjml.j2:12: <mj-html-attributes>: mjml-python does not support",
        ),
    ],
)
def test_templates_check_fails_on_broken_template(run: Invoke, folder: str, message: str) -> None:
    result = run("templates", "check", "--dir", str(FIXTURES / folder))
    assert result.exit_code == 1
    assert message in result.output
    assert "Templates OK" not in result.output


def test_templates_check_reports_accessibility_errors(run: Invoke, tmp_path: Path) -> None:
    source = (Path(__file__).parent.parent / "templates" / "digest.mjml.j2").read_text()
    bad = (
        source.replace('>{{ _("Manage your categories") }}</a>', ">click here</a>")
        .replace("<h2 id=", "<h4 id=")
        .replace("</h2>", "</h4>")
    )
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "digest.mjml.j2").write_text(bad)
    result = run("templates", "check", "--dir", "mine")
    assert result.exit_code == 1
    line = bad[: bad.index("<h4 id=")].count("\n") + 1
    assert f"mine/digest.mjml.j2:{line}: heading level skipped (<h4> after <h1>)" in result.output
    assert "link text 'click here' does not say where it goes" in result.output
