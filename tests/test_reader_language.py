"""A reader's own language: the `language` column (migration m006_emails_subscriber_language),
CSV import and export, and one compile per language variant in a real send."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from digest.cli import cli
from tests.builders import NOW, add_articles, article, make_db, settings_for
from tests.relay import running_relay


def test_csv_language_column_imports_exports_and_sends_per_language(tmp_path: Path) -> None:
    db_path = tmp_path / "digest.db"
    db = make_db(db_path)
    add_articles(
        db,
        [article(f"c{i}", ("Courts",), NOW - timedelta(hours=3 + i)) for i in range(3)],
        NOW - timedelta(hours=2),
    )
    db.close()
    (tmp_path / "readers.csv").write_text(
        "email,categories,language\n"
        "ana@example.com,Courts,es\n"
        "bob@example.com,Courts,\n"
        "amal@example.com,Courts,ar\n",
        encoding="utf-8",
    )
    with running_relay() as relay:
        settings = settings_for(db_path, relay.url)
        config = tmp_path / "digest.toml"
        config.write_text(
            f'secret_key = "{settings.secret_key}"\n[database]\npath = "{db_path}"\n'
            f'[smtp]\nurl = "{relay.url}"\n',
            encoding="utf-8",
        )
        runner = CliRunner()

        def run(*args: str) -> str:
            result = runner.invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
            assert result.exit_code == 0, result.output
            return result.output

        run("subscribers", "import", str(tmp_path / "readers.csv"))
        rows = (
            sqlite3.connect(db_path)
            .execute("SELECT email, language FROM subscribers ORDER BY email")
            .fetchall()
        )
        assert rows == [
            ("amal@example.com", "ar"),
            ("ana@example.com", "es"),
            ("bob@example.com", ""),
        ]
        exported = list(csv.DictReader(io.StringIO(run("subscribers", "export"))))
        assert {r["email"]: r["language"] for r in exported} == {
            "ana@example.com": "es",
            "bob@example.com": "",
            "amal@example.com": "ar",
        }
        out = run("send", "--as-of", NOW.isoformat())
        assert "MJML compiles: 3 for 3 variant(s)" in out, out
        subjects = {m.recipients[0]: str(m.message["Subject"]) for m in relay.received}
    assert subjects["ana@example.com"].startswith("Legal Reader semanal: 3 artículos nuevos")
    assert subjects["bob@example.com"].startswith("Legal Reader weekly: 3 new articles")
    assert "أسبوعي" in subjects["amal@example.com"]
    (amal,) = [m for m in relay.received if m.recipients[0] == "amal@example.com"]
    page = amal.message.get_body(("html",))
    assert page is not None and '<html lang="ar" dir="rtl"' in page.get_content()


def test_bad_language_in_csv_names_line_and_field(tmp_path: Path) -> None:
    db_path = tmp_path / "digest.db"
    make_db(db_path).close()
    (tmp_path / "readers.csv").write_text(
        "email,categories,language\nana@example.com,Courts,xx-notalanguage\n", encoding="utf-8"
    )
    config = tmp_path / "digest.toml"
    config.write_text(f'secret_key = "k"\n[database]\npath = "{db_path}"\n', encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--config", str(config), "subscribers", "import", str(tmp_path / "readers.csv")]
    )
    assert result.exit_code == 1
    assert "line 2" in result.output and "language" in result.output
    assert "Traceback" not in result.output
