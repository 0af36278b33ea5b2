"""`digest bounces import` and `digest subscribers reactivate` through click, against a real
database file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.store import editions as edition_store
from digest.store import leases
from digest.store.subscribers import get_subscriber_by_email
from tests.builders import NOW, make_db, subscribe

FIXTURES = Path(__file__).parent / "fixtures" / "bounces"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "test.db"
    db = make_db(path)
    for email in ("pat@example.com", "olga@hotmail.com", "ana@example.com", "cat@yahoo.com"):
        subscribe(db, email, ("Courts",))
    edition = edition_store.create_edition(
        db,
        frequency="weekly",
        period="2026-W48",
        starts_at=NOW - timedelta(days=7),
        ends_at=NOW,
        now=NOW,
    )
    generation = leases.acquire_send_lock(db, edition.id, NOW)
    for email in ("pat@example.com", "olga@hotmail.com", "ana@example.com", "cat@yahoo.com"):
        reader = get_subscriber_by_email(db, email)
        assert reader is not None
        message_id = f"<w48-{email.split('@')[0]}@news.example.com>"
        edition_store.mark_sending(
            db, edition.id, reader.id, message_id, NOW, generation=generation
        )
        edition_store.mark_delivery(db, edition.id, reader.id, "sent", NOW)
    leases.release_send_lock(db, edition.id, generation)
    db.close()
    return path


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[object]:
    with time_machine.travel(datetime(2026, 11, 29, 10, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """A folder of .eml files, named relative to the working folder (the test's tmp_path)."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name in ("postfix.eml", "microsoft-policy.eml", "reply.eml", "postfix-delayed.eml"):
        shutil.copy(FIXTURES / name, folder / name)
    return Path("inbox")


def run(db_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db_path), *args])


def test_import_reports_every_message(db_path: Path, inbox: Path) -> None:
    result = run(db_path, "bounces", "import", str(inbox))
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Read 4 messages: 1 hard bounce, 0 soft bounces, 0 complaints, 1 policy rejection; "
        "0 already imported, 1 needing nothing, 1 unrecognised.\n"
        "Status changes:\n"
        "  pat@example.com: active -> bounced (hard bounce; 5.1.1; smtp; 550 5.1.1 "
        "<pat@example.com>: Recipient address rejected: User unknown in virtual mailbox "
        "table; edition 1; from inbox/postfix.eml)\n"
        "Warning: policy rejections are the sender's problem, not the readers' (check SPF, "
        "DKIM, DMARC and the sending IP's reputation):\n"
        "  inbox/microsoft-policy.eml: policy rejection; 5.7.1; smtp; 550 5.7.1 "
        "Unfortunately, messages from [203.0.113.7] weren't sent. Please contact your "
        "Internet service provider since part of their network is on our block list "
        "(S3150).; edition 1; from inbox/microsoft-policy.eml\n"
        "Needing nothing:\n"
        "  inbox/postfix-delayed.eml: delivery status notification: delay, no failure\n"
        "Unrecognised (nothing changed; listed again on the next import):\n"
        "  inbox/reply.eml: not a bounce or complaint report\n"
    )
    again = run(db_path, "bounces", "import", str(inbox))
    assert again.output == (
        "Read 4 messages: 0 hard bounces, 0 soft bounces, 0 complaints, 0 policy rejections; "
        "3 already imported, 0 needing nothing, 1 unrecognised.\n"
        "Unrecognised (nothing changed; listed again on the next import):\n"
        "  inbox/reply.eml: not a bounce or complaint report\n"
    )


def test_the_evidence_shows_in_the_readers_history(db_path: Path, inbox: Path) -> None:
    run(db_path, "bounces", "import", str(inbox / "postfix.eml"))
    shown = run(db_path, "subscribers", "show", "pat@example.com", "--json")
    events = json.loads(shown.output)["events"]
    assert events[-1]["kind"] == "bounced"
    assert events[-1]["source"] == "bounces"
    assert events[-1]["detail"].startswith("hard bounce; 5.1.1; smtp; 550 5.1.1")
    assert events[-1]["detail"].endswith("; edition 1; from inbox/postfix.eml")
    listed = run(db_path, "subscribers", "list", "--status", "bounced")
    assert listed.output.splitlines()[1:] == ["pat@example.com\tbounced\tweekly\tUTC\tCourts\t"]


def test_import_json(db_path: Path, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "arf-yahoo.eml", tmp_path / "arf.eml")
    result = run(db_path, "bounces", "import", "arf.eml", "--json")
    data = json.loads(result.output)
    assert (data["messages"], data["complaints"]) == (1, 1)
    assert data["changes"] == [
        {
            "email": "cat@yahoo.com",
            "old": "active",
            "new": "complained",
            "evidence": "complaint; feedback-type abuse from Yahoo!-Mail-Feedback/2.0; edition 1; "
            "from arf.eml",
            "origin": "arf.eml",
        }
    ]


def test_import_of_a_missing_path_is_a_clear_error(db_path: Path) -> None:
    result = run(db_path, "bounces", "import", "nowhere.mbox")
    assert (result.exit_code, result.output) == (1, "Error: nowhere.mbox: no such file or folder\n")


def test_reactivate(db_path: Path, inbox: Path) -> None:
    run(db_path, "bounces", "import", str(inbox / "postfix.eml"))
    missing = run(db_path, "subscribers", "reactivate", "pat@example.com")
    assert missing.exit_code == 2 and "Missing option '--reason'" in missing.output
    result = run(
        db_path, "subscribers", "reactivate", "Pat@Example.com", "--reason", "typo fixed by IT"
    )
    assert (result.exit_code, result.output) == (0, "Reactivated pat@example.com: active again.\n")
    shown = json.loads(run(db_path, "subscribers", "show", "pat@example.com", "--json").output)
    assert shown["status"] == "active"
    assert {k: shown["events"][-1][k] for k in ("kind", "source", "detail")} == {
        "kind": "reactivated",
        "source": "cli",
        "detail": "typo fixed by IT",
    }
    refused = run(db_path, "subscribers", "reactivate", "ana@example.com", "--reason", "x")
    assert (refused.exit_code, refused.output) == (
        1,
        "Error: ana@example.com is active, not bounced or complained (nothing to do)\n",
    )


def test_every_bounce_command_has_help(db_path: Path) -> None:
    commands = (["bounces"], ["bounces", "import"], ["subscribers", "reactivate"])
    for args in commands:
        result = run(db_path, *args, "-h")
        assert result.exit_code == 0 and "Example" in result.output
