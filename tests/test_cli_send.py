"""`digest send` and `digest editions` through click, against real files and a real relay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from digest.cli import cli
from tests.builders import NOW, add_articles, article, make_db, subscribe
from tests.relay import Relay, running_relay


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as r:
        yield r


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    add_articles(
        db,
        [
            article("o1", ("Opioid Drugs",), NOW - timedelta(days=1), "Opioid & <b>Court</b>"),
            article("c1", ("Courts",), NOW - timedelta(days=2)),
        ],
        imported=NOW - timedelta(days=1),
    )
    subscribe(db, "ana@example.com", ("Opioid Drugs",), name="Ana")
    subscribe(db, "bo@example.com", ("Opioid Drugs", "Courts"))
    subscribe(db, "cy@example.com", ("Consumer Safety",))  # nothing new
    db.close()
    return path


def config(tmp_path: Path, relay: Relay | None = None) -> Path:
    url = relay.url if relay else "smtp://127.0.0.1:9"
    path = tmp_path / "digest.toml"
    path.write_text(f'secret_key = "k"\n[smtp]\nurl = "{url}"\n[sending]\nconcurrency = 1\n')
    return path


def run(tmp_path: Path, db_path: Path, *args: str, relay: Relay | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["--config", str(config(tmp_path, relay)), "--db", str(db_path), *args]
    )


def test_dry_run_summary(tmp_path: Path, db_path: Path) -> None:
    result = run(tmp_path, db_path, "send", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Dry run: weekly 2026-W48 (new edition); nothing sent, nothing recorded."
    assert lines[1] == "Recipients: 3; messages: 2; skipped (nothing new): 1"
    assert lines[2:5] == ["Articles per category:", "  Courts        1", "  Opioid Drugs  1"]
    assert lines[5].startswith("Message size: median ")
    assert "MJML compiles: 2 for 2 variant(s)" in lines[5]


def test_dry_run_json_and_output_folder(tmp_path: Path, db_path: Path) -> None:
    out = tmp_path / "out"
    result = run(
        tmp_path, db_path, "send", "--dry-run", "--json", "--output", str(out), "--limit", "1"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["recipients"] == 3 and summary["messages"] == 2 and summary["skipped"] == 1
    assert summary["status"] == "dry-run" and summary["edition_id"] is None
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest) == 1
    assert manifest[0]["recipient"] == "ana@example.com"
    assert manifest[0]["articles"] == ["a-o1"]
    assert manifest[0]["subject"] == "Legal Reader weekly: 1 new article in Opioid Drugs"
    eml = (out / manifest[0]["file"]).read_bytes()
    assert manifest[0]["size"] == len(eml)
    assert b"To: Ana <ana@example.com>" in eml


def test_send_then_editions(tmp_path: Path, db_path: Path, relay: Relay) -> None:
    result = run(tmp_path, db_path, "send", relay=relay)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "Edition weekly 2026-W48 (#1): complete"
    # Not a terminal: no progress at all (tests/test_cli_progress.py has the terminal).
    assert result.stderr == ""
    assert (
        "Recipients: 3; sent: 2; skipped: 1; failed: 0; bounced: 0; deferred: 0; retried: 0"
    ) in result.output
    assert sorted(relay.by_recipient()) == ["ana@example.com", "bo@example.com"]

    again = run(tmp_path, db_path, "send", relay=relay)
    assert again.exit_code == 0
    assert again.output == (
        "Edition weekly 2026-W48 (#1) is complete: 2 sent, 1 skipped, 0 failed. Nothing to send.\n"
    )
    listing = run(tmp_path, db_path, "editions", "list")
    assert listing.output.splitlines()[1].split() == [
        "1",
        "weekly",
        "2026-W48",
        "sent",
        "3",
        "2",
        "1",
        "0",
        "0",
    ]
    shown = json.loads(
        run(tmp_path, db_path, "editions", "show", "1", "--json", "--deliveries").output
    )
    assert shown["sent"] == 2 and shown["pending"] == 0
    assert (shown["hard_bounces"], shown["soft_bounces"], shown["complaints"]) == (0, 0, 0)
    assert {d["email"]: d["status"] for d in shown["deliveries"]} == {
        "ana@example.com": "sent",
        "bo@example.com": "sent",
        "cy@example.com": "skipped",
    }
    missing = run(tmp_path, db_path, "editions", "show", "9")
    assert (missing.exit_code, missing.output) == (
        1,
        "Error: no edition with id 9 (see `digest editions list`)\n",
    )


def test_test_copy_records_nothing(tmp_path: Path, db_path: Path, relay: Relay) -> None:
    result = run(
        tmp_path,
        db_path,
        "send",
        "--to",
        "editor@example.com",
        "--as",
        "bo@example.com",
        relay=relay,
    )
    assert result.exit_code == 0, result.output
    (received,) = relay.received
    assert result.output == (
        f"Sent a test copy to editor@example.com ({len(received.data):,} bytes): "
        "[TEST] Legal Reader weekly: 2 new articles in Opioid Drugs and Courts\n"
    )
    assert received.recipients == ["editor@example.com"]
    assert received.message["Subject"].startswith("[TEST] ")
    assert "Article c1" in received.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    listing = run(tmp_path, db_path, "editions", "list")
    assert listing.output == "No editions yet.\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["send", "--as-of", "next week"], "Invalid value for '--as-of'"),
        (["send", "--output", "x"], "Error: --output and --limit go with --dry-run"),
        (["send", "--as", "ana@example.com"], "Error: --as and --category go with --to"),
        (["send"], "Error: smtp://127.0.0.1:9: cannot connect to the relay"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path, db_path: Path, args: list[str], message: str
) -> None:
    result = run(tmp_path, db_path, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error:")


def test_unreachable_relay_creates_no_edition(tmp_path: Path, db_path: Path) -> None:
    assert run(tmp_path, db_path, "send").exit_code == 1
    assert run(tmp_path, db_path, "editions", "list").output == "No editions yet.\n"


def test_send_day_sends_that_days_edition_to_its_readers_only(
    tmp_path: Path, db_path: Path, relay: Relay
) -> None:
    """`digest send --day thu` is the hand-run twin of the scheduler's day edition: the
    readers who chose Thursday, and nobody else; the site's edition then takes the rest."""
    db = make_db(db_path)
    subscribe(db, "thea@example.com", ("Opioid Drugs",), delivery_day="thu")
    db.close()

    dry = run(tmp_path, db_path, "send", "--day", "thu", "--dry-run", relay=relay)
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines()[:2] == [
        "Dry run: weekly 2026-W48-thu (new edition); nothing sent, nothing recorded.",
        "Recipients: 1; messages: 1; skipped (nothing new): 0",
    ]
    thursday = run(tmp_path, db_path, "send", "--day", "thu", "--json", relay=relay)
    assert thursday.exit_code == 0, thursday.output
    assert json.loads(thursday.output)["period"] == "2026-W48-thu"
    assert [m.recipients for m in relay.received] == [["thea@example.com"]]

    site = run(tmp_path, db_path, "send", "--json", relay=relay)
    assert site.exit_code == 0, site.output
    assert sorted(r for m in relay.received[1:] for r in m.recipients) == [
        "ana@example.com",
        "bo@example.com",
    ]


def test_send_day_refused_with_daily_editions(tmp_path: Path, db_path: Path) -> None:
    result = run(tmp_path, db_path, "send", "--frequency", "daily", "--day", "thu")
    assert result.exit_code == 2
    assert "--day goes with weekly editions" in result.output
    bad = run(tmp_path, db_path, "send", "--day", "thursday")
    assert bad.exit_code == 2 and "'thursday' is not one of" in bad.output
