"""`digest subscribers ...` through click, against real database files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.store import open_db
from digest.store.categories import ensure_category

FIXTURES = Path(__file__).parent / "fixtures" / "subscribers"
KNOWN = "known: Opioid Drugs, Consumer Safety, Courts"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "test.db"
    db = open_db(path)
    for name in ("Opioid Drugs", "Consumer Safety", "Courts"):
        ensure_category(db, name)
    db.close()
    return path


@pytest.fixture(autouse=True)
def frozen_clock() -> object:
    with time_machine.travel(datetime(2026, 11, 28, 10, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def run(db_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db_path), "subscribers", *args])


def test_add_with_case_insensitive_categories(db_path: Path) -> None:
    result = run(
        db_path,
        "add",
        "Ana@Example.com",
        "--category",
        "courts",
        "-c",
        "opioid drugs",
        "--name",
        "Ana Lima",
        "--frequency",
        "daily",
        "--timezone",
        "Asia/Kathmandu",
    )
    assert (result.exit_code, result.output) == (
        0,
        "Added Ana@example.com (Courts; Opioid Drugs; daily, Asia/Kathmandu).\n",
    )
    result = run(db_path, "add", "ana@example.com", "-c", "Courts")
    assert result.output == "Updated ana@example.com (Courts; daily, Asia/Kathmandu).\n"
    result = run(db_path, "add", "ana@example.com", "-c", "Courts")
    assert result.output == (
        "Already subscribed, unchanged: ana@example.com (Courts; daily, Asia/Kathmandu).\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "Astrology"], f"unknown category 'Astrology' ({KNOWN})"),
        (
            ["-c", "Courts", "--timezone", "Mars/Olympus"],
            "timezone: 'Mars/Olympus' is not an IANA timezone name (such as 'Europe/London')",
        ),
        (
            ["-c", "Courts", "--name", "Ana\nBcc: x@example.com"],
            "name: 'Ana\\nBcc: x@example.com' contains a line break ('\\n')",
        ),
        (
            ["-c", "Courts", "--name", "Urgent: verify at www.bank-login.example"],
            "name: 'Urgent: verify at www.bank-login.example' contains a web address "
            "('www.'); a name cannot hold links",
        ),
        (
            ["-c", "Courts", "--name", "N" * 81],
            "name: 81 characters is too long (at most 80)",
        ),
        (
            ["-c", "Courts", "--day", "someday"],
            "delivery_day: 'someday' is not a day of the week (mon, tue, wed, thu, fri, sat, sun)",
        ),
    ],
)
def test_add_errors_are_one_line(db_path: Path, args: list[str], message: str) -> None:
    result = run(db_path, "add", "ana@example.com", *args)
    assert (result.exit_code, result.output) == (1, f"Error: {message}\n")


def test_add_with_a_weekly_day(db_path: Path) -> None:
    result = run(db_path, "add", "ana@example.com", "-c", "Courts", "--day", "Thursday")
    assert (result.exit_code, result.output) == (
        0,
        "Added ana@example.com (Courts; weekly on thu, UTC).\n",
    )
    result = run(db_path, "add", "ana@example.com", "-c", "Courts", "--day", "")
    assert result.output == "Updated ana@example.com (Courts; weekly, UTC).\n"


def test_add_invalid_email(db_path: Path) -> None:
    result = run(db_path, "add", "bob@", "-c", "Courts")
    assert (result.exit_code, result.output) == (
        1,
        "Error: email: 'bob@' is not a valid address (There must be something after the @-sign)\n",
    )


def test_import_reports_counts_and_rejected_lines(db_path: Path) -> None:
    result = run(db_path, "import", str(FIXTURES / "bad_rows.csv"))
    assert result.exit_code == 1
    assert result.stdout == "Added 2, updated 0, unchanged 0, rejected 5, suppressed 0.\n"
    assert result.stderr == (
        "  line 4: email: 'bob@' is not a valid address (There must be something after the "
        "@-sign)\n"
        "  line 5: name: 'Carol\\nSmith' contains a line break ('\\n')\n"
        f"  line 7: categories: unknown category 'Astrology' ({KNOWN})\n"
        "  line 8: frequency: 'monthly' is not weekly or daily\n"
        "  line 9: timezone: 'Mars/Olympus' is not an IANA timezone name (such as "
        "'Europe/London')\n"
    )


def test_import_rejects_names_with_web_addresses(db_path: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "names.csv"
    csv_path.write_text(
        "email,name,categories\n"
        "ana@example.com,Ana Lima,Courts\n"
        "bob@example.com,Call https://evil.example/pay,Courts\n"
        "cat@example.com,cat.example,Courts\n",
        encoding="utf-8",
    )
    result = run(db_path, "import", str(csv_path))
    assert result.exit_code == 1
    assert result.stdout == "Added 1, updated 0, unchanged 0, rejected 2, suppressed 0.\n"
    assert result.stderr == (
        "  line 3: name: 'Call https://evil.example/pay' contains a web address "
        "('https://'); a name cannot hold links\n"
        "  line 4: name: 'cat.example' contains a web address ('cat.example'); a name "
        "cannot hold links\n"
    )


def test_import_strict_writes_nothing(db_path: Path) -> None:
    result = run(db_path, "import", "--strict", str(FIXTURES / "bad_rows.csv"))
    assert result.exit_code == 1
    assert result.stdout == "Added 0, updated 0, unchanged 0, rejected 5, suppressed 0.\n"
    assert result.stderr.endswith(
        "Nothing was imported (--strict): fix the rejected lines and retry.\n"
    )
    assert run(db_path, "list").output == "email\tstatus\tfrequency\ttimezone\tcategories\tname\n"


def test_import_duplicates_and_suppressed_exit_zero(db_path: Path, tmp_path: Path) -> None:
    run(db_path, "add", "gone@example.com", "-c", "Courts")
    run(db_path, "unsubscribe", "gone@example.com")
    csv_path = tmp_path / "in.csv"
    csv_path.write_text(
        "email,categories\na@example.com,Courts\ngone@example.com,Courts\nA@example.com,Courts\n",
        encoding="utf-8",
    )
    result = run(db_path, "import", str(csv_path))
    assert result.exit_code == 0
    assert result.stdout == "Added 1, updated 0, unchanged 0, rejected 0, suppressed 1.\n"
    assert result.stderr == (
        "  line 3: gone@example.com is suppressed; not re-subscribed\n"
        "  line 2: same address as line 4, which was used\n"
    )


def test_import_missing_file(db_path: Path, tmp_path: Path) -> None:
    result = run(db_path, "import", str(tmp_path / "nope.csv"))
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {tmp_path / 'nope.csv'}: file not found\n",
    )


def test_list_json_and_filters(db_path: Path) -> None:
    run(db_path, "import", str(FIXTURES / "good.csv"))
    result = run(db_path, "list", "--category", "consumer safety", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == [
        {
            "id": 3,
            "email": "tanaka@example.com",
            "name": "田中",
            "status": "active",
            "frequency": "weekly",
            "timezone": "Asia/Tokyo",
            "categories": ["Consumer Safety"],
            "created_at": "2026-11-28T10:00:00Z",
            "confirmed_at": "2026-11-28T10:00:00Z",
            "unsubscribed_at": None,
            "source": "import",
        }
    ]
    text = run(db_path, "list", "--status", "active", "-c", "Opioid Drugs")
    assert text.output == (
        "email\tstatus\tfrequency\ttimezone\tcategories\tname\n"
        "jose@example.org\tactive\tweekly\tEurope/Madrid\tCourts; Opioid Drugs\tJosé Álvarez\n"
        'fay@example.com\tactive\tdaily\tAmerica/St_Johns\tOpioid Drugs; Courts\tFay "the judge", '
        "Esq.\n"
    )
    assert json.loads(run(db_path, "list", "--status", "bounced", "--json").output) == []
    bad = run(db_path, "list", "--category", "Astrology")
    assert (bad.exit_code, bad.output) == (1, f"Error: unknown category 'Astrology' ({KNOWN})\n")


def test_export_to_file_then_import_is_unchanged(db_path: Path, tmp_path: Path) -> None:
    run(db_path, "import", str(FIXTURES / "good.csv"))
    out = tmp_path / "backup.csv"
    result = run(db_path, "export", "-o", str(out))
    assert (result.exit_code, result.stderr) == (0, f"Exported 4 subscribers to {out}.\n")
    assert out.read_text(encoding="utf-8").splitlines()[4] == (
        "zoe@example.org,Zoë,Courts,weekly,UTC,active,,"
    )
    again = run(db_path, "import", str(out))
    assert (again.exit_code, again.output) == (
        0,
        "Added 0, updated 0, unchanged 4, rejected 0, suppressed 0.\n",
    )
    as_json = run(db_path, "export", "--format", "json")
    assert [row["email"] for row in json.loads(as_json.output)] == [
        "jose@example.org",
        "fay@example.com",
        "tanaka@example.com",
        "zoe@example.org",
    ]


def test_unsubscribe_forget_and_re_add(db_path: Path) -> None:
    run(db_path, "add", "ana@example.com", "-c", "Courts", "--name", "Ana")
    result = run(db_path, "unsubscribe", "ANA@example.com")
    assert result.output == "Unsubscribed ANA@example.com.\n"
    assert run(db_path, "unsubscribe", "ana@example.com").output == (
        "ana@example.com is already unsubscribed; nothing changed.\n"
    )
    result = run(db_path, "forget", "ana@example.com")
    assert result.output == (
        "Forgot ana@example.com: personal data erased, the address stays suppressed.\n"
    )
    refused = run(db_path, "add", "ana@example.com", "-c", "Courts")
    assert (refused.exit_code, refused.output) == (
        1,
        "Error: ana@example.com is forgotten: not re-subscribed "
        "(pass reactivate to subscribe it again, with their consent)\n",
    )
    back = run(db_path, "add", "ana@example.com", "-c", "Courts", "--reactivate")
    assert back.output == "Reactivated ana@example.com (Courts; weekly, UTC).\n"
    missing = run(db_path, "unsubscribe", "nobody@example.com")
    assert (missing.exit_code, missing.output) == (1, "Error: no subscriber nobody@example.com\n")


def test_show_prints_the_subscriber_and_events(db_path: Path) -> None:
    run(db_path, "add", "zoe@example.org", "-c", "Courts", "-c", "Opioid Drugs", "--name", "Zoë")
    run(db_path, "unsubscribe", "zoe@example.org")
    result = run(db_path, "show", "Zoe@example.org")
    assert (result.exit_code, result.output) == (
        0,
        "email:         zoe@example.org\n"
        "name:          Zoë\n"
        "status:        unsubscribed\n"
        "frequency:     weekly\n"
        "timezone:      UTC\n"
        "categories:    Courts; Opioid Drugs\n"
        "created:       2026-11-28T10:00:00Z\n"
        "confirmed:     2026-11-28T10:00:00Z\n"
        "unsubscribed:  2026-11-28T10:00:00Z\n"
        "source:        cli\n"
        "events:\n"
        "  2026-11-28T10:00:00Z  subscribed   cli\n"
        "  2026-11-28T10:00:00Z  unsubscribed cli\n",
    )
    data = json.loads(run(db_path, "show", "zoe@example.org", "--json").output)
    assert data["events"] == [
        {"kind": "subscribed", "at": "2026-11-28T10:00:00Z", "source": "cli", "detail": ""},
        {"kind": "unsubscribed", "at": "2026-11-28T10:00:00Z", "source": "cli", "detail": ""},
    ]


def test_database_that_is_not_sqlite(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_text("this is not a database, just some text that is long enough\n" * 20)
    result = CliRunner().invoke(cli, ["--db", str(bogus), "subscribers", "list"])
    assert result.exit_code == 1
    assert result.output == f"Error: {bogus}: not a SQLite database (file is not a database)\n"


def test_every_command_has_help_with_an_example() -> None:
    for name in ("add", "import", "list", "export", "unsubscribe", "forget", "show"):
        result = CliRunner().invoke(cli, ["subscribers", name, "-h"])
        assert result.exit_code == 0, name
        assert "Example" in result.output, name
