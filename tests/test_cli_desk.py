"""The editor's desk from the terminal: `digest editions prepare/pin/exclude/include/intro/
subject/approve/cancel`, through click, against a real SQLite file and a real relay. Every
bad input is a one-line error that changes nothing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
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
    """Opioid Drugs has four new articles (three fit: max 3 per category) and one too old
    for the look-back; Courts has one, which is also filed under Opioid Drugs."""
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    day = timedelta(days=1)
    add_articles(
        db,
        [
            article("o1", ("Opioid Drugs",), NOW - 1 * day, "Newest <script>alert(1)</script>"),
            article("o2", ("Opioid Drugs",), NOW - 2 * day),
            article("o3", ("Opioid Drugs",), NOW - 3 * day),
            article("o4", ("Opioid Drugs",), NOW - 4 * day, "Oldest in the window"),
            article("old", ("Opioid Drugs",), NOW - 30 * day),
            article("c1", ("Courts", "Opioid Drugs"), NOW - 5 * day),
        ],
        imported=NOW - timedelta(hours=1),
    )
    subscribe(db, "ana@example.com", ("Opioid Drugs",), name="Ana")
    subscribe(db, "bo@example.com", ("Courts",))
    db.close()
    return path


def config(tmp_path: Path, relay: Relay | None, approval: str = "optional") -> Path:
    url = relay.url if relay else "smtp://127.0.0.1:9"
    path = tmp_path / "digest.toml"
    path.write_text(
        f'secret_key = "k"\n[smtp]\nurl = "{url}"\n[sending]\nconcurrency = 1\n'
        f'[digest]\nmax_articles_per_category = 3\n[schedule]\napproval = "{approval}"\n'
    )
    return path


class Desk:
    def __init__(self, tmp_path: Path, db_path: Path, relay: Relay | None = None) -> None:
        self.tmp_path, self.db_path, self.relay = tmp_path, db_path, relay
        self.approval = "optional"

    def __call__(self, *args: str) -> Result:
        conf = config(self.tmp_path, self.relay, self.approval)
        return CliRunner().invoke(cli, ["--config", str(conf), "--db", str(self.db_path), *args])

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result.output

    def fails(self, *args: str) -> str:
        """The one-line error of a refused command, after checking it changed nothing."""
        before = self.snapshot()
        result = self(*args)
        assert result.exit_code != 0, result.output
        assert "Traceback" not in result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        assert self.snapshot() == before
        return lines[0]

    def snapshot(self) -> list[list[tuple[object, ...]]]:
        with sqlite3.connect(self.db_path) as conn:
            return [
                conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("editions", "edition_picks", "edition_changes", "deliveries")
            ]


@pytest.fixture
def desk(tmp_path: Path, db_path: Path, relay: Relay) -> Desk:
    return Desk(tmp_path, db_path, relay)


def test_prepare_prints_what_each_category_carries(desk: Desk) -> None:
    out = desk.ok("editions", "prepare", "--as", "Eve")
    assert out.splitlines() == [
        "Edition #1 weekly 2026-W48: draft (approval optional); cutoff 2026-11-28 09:00 UTC",
        "Subject: (from the subject template)",
        "Opioid Drugs: 3 of 5 candidate(s), 1 reader",
        "  1. a-o1  2026-11-27  Newest <script>alert(1)</script>",
        "  2. a-o2  2026-11-26  Article o2",
        "  3. a-o3  2026-11-25  Article o3",
        "Consumer Safety: nothing new (0 readers)",
        "Courts: 1 of 1 candidate(s), 1 reader",
        "  1. a-c1  2026-11-23  Article c1",
    ]
    # Refreshing while a draft moves the cutoff; nobody is a recipient yet.
    again = desk.ok("editions", "prepare")
    assert again.splitlines()[0] == "Refreshed the draft #1: cutoff moved to now."
    shown = json.loads(desk.ok("editions", "show", "1", "--json"))
    assert shown["status"] == "draft" and shown["recipients"] == 0
    assert (shown["changes"][0]["editor"], shown["changes"][0]["action"]) == ("Eve", "prepare")


def test_pin_exclude_intro_subject_reach_the_readers(desk: Desk, relay: Relay) -> None:
    desk.ok("editions", "prepare")
    assert desk.ok("editions", "pin", "1", "a-o4", "--as", "Eve") == (
        "Pinned a-o4 at 1 in Opioid Drugs (edition #1).\n"
    )
    assert desk.ok("editions", "exclude", "1", "a-o2", "--as", "Eve") == (
        "Excluded a-o2 from edition #1.\n"
    )
    desk.ok("editions", "exclude", "1", "a-o3")
    assert desk.ok("editions", "include", "1", "a-o3") == "Included a-o3 in edition #1 again.\n"
    intro = desk.tmp_path / "intro.md"
    intro.write_text("Two stories **matter** this week.\n\n<script>alert(2)</script>\n")
    assert desk.ok("editions", "intro", "1", "--file", str(intro)) == (
        "Intro of edition #1 set (60 characters).\n"
    )
    assert desk.ok("editions", "subject", "1", "The week in <b>opioids</b>") == (
        "Subject of edition #1: The week in <b>opioids</b>\n"
    )
    show = desk.ok("editions", "show", "1")
    assert "pinned:       a-o4 leads Opioid Drugs: Oldest in the window\n" in show
    assert "excluded:     a-o2\n" in show
    assert "  | Two stories **matter** this week.\n" in show
    changes = show.split("changes:\n")[1].splitlines()
    assert [line.split("  ")[3] for line in changes] == [
        "prepare: cutoff 2026-11-28T09:00:00Z",
        "pin: a-o4 in Opioid Drugs at 1",
        "exclude: a-o2",
        "exclude: a-o3",
        "include: a-o3",
        "intro: 60 characters",
        "subject: The week in <b>opioids</b>",
    ]
    assert all(line.split("  ")[2] == "Eve" for line in changes[1:3])

    sent = desk.ok("send")
    assert "Edition weekly 2026-W48 (#1): complete" in sent
    ana = relay.by_recipient()["ana@example.com"][0].message
    assert ana["Subject"] == "The week in <b>opioids</b>"
    html = _part(ana, "text/html")
    text = _part(ana, "text/plain")
    # The pinned article leads its category, the excluded one is absent from both parts.
    titles = [t for t in ("Oldest in the window", "Newest", "Article o3") if t in text]
    assert text.index("Oldest in the window") < text.index("Newest")
    assert titles == ["Oldest in the window", "Newest", "Article o3"]
    assert "Article o2" not in text and "Article o2" not in html
    # The intro: Markdown rendered, script shown as text, never markup.
    assert "<strong>matter</strong>" in html
    assert "<script>alert(2)" not in html and "&lt;script&gt;alert(2)" in html
    assert "Two stories matter this week." in text
    assert "<script>" not in html.replace("&lt;script&gt;", "")
    # After the send nothing may change.
    assert desk.fails("editions", "pin", "1", "a-o1") == (
        "Error: edition #1 is sent: cannot pin an article in it any more"
    )
    assert desk.fails("editions", "approve", "1") == (
        "Error: edition #1 is sent: only a draft or a held edition can be approved"
    )
    assert desk.fails("editions", "cancel", "1") == (
        "Error: edition #1 is sent: only an edition that has not started sending can be cancelled"
    )


def test_send_refuses_an_unapproved_draft_then_sends_it_approved(desk: Desk, relay: Relay) -> None:
    desk.approval = "required"
    desk.ok("editions", "prepare")
    assert desk.fails("send") == (
        "Error: edition #1 (weekly 2026-W48) is a draft and needs approval before it is "
        "sent: review it with `digest editions show 1`, then `digest editions approve 1`"
    )
    assert relay.by_recipient() == {}
    assert desk.ok("editions", "approve", "1", "--as", "Eve") == (
        "Approved edition #1 (weekly 2026-W48) as Eve.\n"
    )
    assert desk.fails("editions", "approve", "1") == (
        "Error: edition #1 is approved: only a draft or a held edition can be approved"
    )
    assert "(#1): complete" in desk.ok("send")
    assert sorted(relay.by_recipient()) == ["ana@example.com", "bo@example.com"]
    listing = desk.ok("editions", "list").splitlines()[1].split()
    assert listing[:4] == ["1", "weekly", "2026-W48", "sent"]


def test_send_without_a_draft_under_required_approval_makes_one(desk: Desk) -> None:
    desk.approval = "required"
    result = desk("send")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: edition #1 (weekly 2026-W48) is a draft and needs approval before it is "
        "sent: review it with `digest editions show 1`, then `digest editions approve 1`"
    ]
    assert json.loads(desk.ok("editions", "show", "1", "--json"))["status"] == "draft"


def test_cancelled_edition_is_never_sent(desk: Desk, relay: Relay) -> None:
    desk.ok("editions", "prepare")
    assert desk.ok("editions", "cancel", "1", "--reason", "a correction") == (
        "Cancelled edition #1 (weekly 2026-W48).\n"
    )
    result = desk("send")  # not sent: exit 1, like a skipped edition
    assert (result.exit_code, result.output) == (
        1,
        "Edition weekly 2026-W48 (#1) was cancelled: a correction\n",
    )
    assert relay.by_recipient() == {}


def test_bad_input_is_one_line_and_changes_nothing(desk: Desk) -> None:
    assert desk.fails("editions", "pin", "9", "a-o1") == (
        "Error: no edition with id 9 (see `digest editions list`)"
    )
    desk.ok("editions", "prepare")
    assert desk.fails("editions", "pin", "1", "a-nope") == (
        "Error: no article with id 'a-nope' (see `digest articles list`)"
    )
    assert desk.fails("editions", "pin", "1", "a-old") == (
        "Error: article 'a-old' is not among edition #1's candidates: only articles "
        "published after 2026-11-21 09:00 and available by its cutoff 2026-11-28 09:00 UTC "
        "can be pinned"
    )
    assert desk.fails("editions", "pin", "1", "a-o1", "--category", "Courts") == (
        "Error: article 'a-o1' is not in category 'Courts' (it is in: Opioid Drugs)"
    )
    assert desk.fails("editions", "pin", "1", "a-c1") == (
        "Error: article 'a-c1' is in several categories (Opioid Drugs, Courts): say which "
        "with --category"
    )
    assert desk.fails("editions", "pin", "1", "a-o1", "--category", "Nope").startswith(
        "Error: unknown category 'Nope' (known: "
    )
    assert desk.fails("editions", "pin", "1", "a-o1", "--position", "0") == (
        "Error: --position: expected 1 or more, got 0"
    )
    assert desk.fails("editions", "exclude", "1", "a-nope") == (
        "Error: no article with id 'a-nope' (see `digest articles list`)"
    )
    assert desk.fails("editions", "include", "1", "a-o1") == (
        "Error: article 'a-o1' is not excluded from edition #1"
    )
    assert desk.fails("editions", "unpin", "1", "a-o1") == (
        "Error: article 'a-o1' is not pinned in edition #1"
    )
    assert desk.fails("editions", "intro", "1") == (
        "Error: give the intro with either --text or --file"
    )
    assert desk.fails("editions", "intro", "1", "--text", "x" * 5001) == (
        "Error: intro: 5001 characters, the most is 5000"
    )
    assert desk.fails("editions", "subject", "1", "y" * 201) == (
        "Error: subject: 201 characters, the most is 200"
    )
    assert desk.fails("editions", "subject", "1", "bell\x07") == (
        "Error: subject: control characters are not allowed"
    )
    assert desk.fails("editions", "pin", "1", "a-o1", "--as", " ") == (
        "Error: --as: an editor's name cannot be blank"
    )
    usage = desk("editions", "pin", "x", "a-o1")  # click's own usage error: exit 2
    assert usage.exit_code == 2
    assert usage.output.splitlines()[-1] == (
        "Error: Invalid value for 'EDITION_ID': 'x' is not a valid integer."
    )
    desk.ok("editions", "cancel", "1")
    assert desk.fails("editions", "approve", "1") == (
        "Error: edition #1 is cancelled: only a draft or a held edition can be approved"
    )
    assert desk.fails("editions", "prepare") == (
        "Error: edition #1 (weekly 2026-W48) is cancelled, not a draft: nothing prepared"
    )


def test_pin_position_and_unpin(desk: Desk) -> None:
    desk.ok("editions", "prepare")
    desk.ok("editions", "pin", "1", "a-o4")
    assert desk.ok("editions", "pin", "1", "a-o3", "--position", "1") == (
        "Pinned a-o3 at 1 in Opioid Drugs (edition #1).\n"
    )
    desk.ok("editions", "pin", "1", "a-c1", "--category", "Opioid Drugs")
    plan = desk.ok("editions", "prepare").splitlines()
    start = plan.index("Opioid Drugs: 3 of 5 candidate(s), 1 reader")
    assert plan[start + 1 : start + 4] == [
        "  1. a-o3  2026-11-25  Article o3 [pinned]",
        "  2. a-o4  2026-11-24  Oldest in the window [pinned]",
        "  3. a-c1  2026-11-23  Article c1 [pinned]",
    ]
    assert desk.ok("editions", "unpin", "1", "a-o3") == "Unpinned a-o3 (edition #1).\n"
    plan = desk.ok("editions", "prepare").splitlines()
    assert plan[start + 1 : start + 4] == [
        "  1. a-o4  2026-11-24  Oldest in the window [pinned]",
        "  2. a-c1  2026-11-23  Article c1 [pinned]",
        "  3. a-o1  2026-11-27  Newest <script>alert(1)</script>",
    ]


def _part(message: EmailMessage, kind: str) -> str:
    for part in message.walk():
        if part.get_content_type() == kind:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"no {kind} part")
