"""The reports (docs/reports.md) end to end: a real send to an SMTP server on loopback,
unsubscribes through the real web routes with the links the messages carry, a bounce report
through `digest bounces import`, clicks recorded through digest/store/tracking.py, sign-ups
through the core; then `digest editions stats` and `digest stats` read it all back."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from click.testing import CliRunner, Result

from digest.app import App, Choices
from digest.cli import cli
from digest.models import Frequency
from digest.store import consent as consent_store
from digest.store import open_db, tracking
from digest.store import subscribers as subscribers_store
from digest.tokens import ConfirmClaim, address_tag, make_unsubscribe_token
from digest.web import create_app
from tests.builders import NOW, add_articles, app_for, article, make_db, send_at, settings_for
from tests.relay import running_relay

FIXTURES = Path(__file__).parent / "fixtures" / "bounces"
READERS = {
    "ana@example.com": ("Opioid Drugs", "Courts"),
    "ben@example.com": ("Courts",),
    "cat@example.com": ("Consumer Safety",),
    "dan@example.com": ("Consumer Safety", "Courts"),
    "eve@example.com": ("Opioid Drugs",),
}
REPORT_AT = NOW + timedelta(days=10)  # Tuesday 2026-12-08, ISO week 2026-W50


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Sent:
    db_path: Path
    edition_id: int
    ids: dict[str, int]  # address -> subscriber id
    categories: dict[str, int]  # name -> id
    unsubscribe_paths: dict[str, str]  # address -> /u/... from the message's header
    message_ids: dict[str, str]


def cli_run(db_path: Path, *args: str) -> Result:
    with time_machine.travel(REPORT_AT, tick=False):
        return CliRunner().invoke(cli, ["--db", str(db_path), *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sent]:
    """One weekly edition sent for real to five readers, then what came back."""
    folder = tmp_path_factory.mktemp("reports")
    db_path = folder / "reports.db"
    db = make_db(db_path)
    add_articles(
        db,
        [
            article("c1", ("Courts",), NOW - timedelta(days=2)),
            article("c2", ("Courts",), NOW - timedelta(days=3)),
            article("o1", ("Opioid Drugs",), NOW - timedelta(days=2)),
            article("s1", ("Consumer Safety",), NOW - timedelta(days=2)),
        ],
        NOW - timedelta(days=1),
    )
    clock = Clock(NOW - timedelta(days=30))
    core = app_for(db, clock=clock)
    ids = {
        email: core.add_subscriber(email, list(cats)).subscriber.id
        for email, cats in READERS.items()
    }
    categories = {r[1]: r[0] for r in db.execute("SELECT id, name FROM categories")}
    with running_relay() as relay:
        settings = settings_for(db_path, relay.url)
        report = send_at(db, settings, NOW)
        assert report.sent == 5
        messages = {r.recipients[0]: r.message for r in relay.wait_for_count(5)}
    edition_id = report.edition_id
    assert edition_id is not None
    paths = {}
    for email, msg in messages.items():
        match = re.search(r"<https?://[^/>]+(/u/[^>]+)>", str(msg["List-Unsubscribe"]))
        assert match, msg["List-Unsubscribe"]
        paths[email] = match[1]
    sent = Sent(
        db_path,
        edition_id,
        ids,
        categories,
        paths,
        {email: str(msg["Message-ID"]) for email, msg in messages.items()},
    )
    _unsubscribe_through_the_web(sent, settings)
    _bounce(sent, folder)
    _click(sent)
    _sign_ups(sent)
    db.close()
    yield sent


def _unsubscribe_through_the_web(sent: Sent, settings: Any) -> None:
    clock = Clock(NOW + timedelta(days=1))
    web = create_app(settings, clock=clock)
    provider = web.test_client(use_cookies=False)
    # Ana: the List-Unsubscribe one-click POST (RFC 8058), a day after the send.
    one_click = provider.post(
        sent.unsubscribe_paths["ana@example.com"],
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert one_click.status_code == 200
    # Ben: the footer link's page, then its button, two days after.
    clock.now = NOW + timedelta(days=2)
    browser = web.test_client()
    page = browser.get(sent.unsubscribe_paths["ben@example.com"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token
    done = browser.post(sent.unsubscribe_paths["ben@example.com"], data={"csrf_token": token[1]})
    assert done.status_code == 200
    # Dan: a link from before editions were named in it still works, and names none.
    clock.now = NOW + timedelta(days=3)
    old = f"/u/{make_unsubscribe_token(settings.secret_key, sent.ids['dan@example.com'])}"
    assert provider.post(old, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    # Cat: this edition's link, but eight days later: past the report's window.
    clock.now = NOW + timedelta(days=8)
    late = provider.post(
        sent.unsubscribe_paths["cat@example.com"], data={"List-Unsubscribe": "One-Click"}
    )
    assert late.status_code == 200


def _bounce(sent: Sent, folder: Path) -> None:
    """Eve's mailbox does not exist: the relay's report comes back later, and is imported."""
    report = (FIXTURES / "postfix.eml").read_text()
    report = report.replace("pat@example.com", "eve@example.com").replace(
        "<w48-pat@news.example.com>", sent.message_ids["eve@example.com"]
    )
    (folder / "eve-bounce.eml").write_text(report)
    result = cli_run(sent.db_path, "bounces", "import", str(folder / "eve-bounce.eml"))
    assert result.exit_code == 0, result.output
    assert "1 hard bounce" in result.output


def _click(sent: Sent) -> None:
    db = open_db(sent.db_path)
    courts, opioid = sent.categories["Courts"], sent.categories["Opioid Drugs"]
    at = NOW + timedelta(hours=5)
    for reader, article_id, category, scanner in (
        ("ana@example.com", "a-c1", courts, False),
        ("ana@example.com", "a-c1", courts, False),  # twice: two clicks, one reader
        ("ben@example.com", "a-c2", courts, False),
        (None, "a-c1", courts, True),  # a link scanner: counted apart
        (None, "a-o1", opioid, False),  # anonymous mode: a count naming nobody
    ):
        tracking.record_click(
            db,
            edition_id=sent.edition_id,
            article_id=article_id,
            category_id=category,
            scanner=scanner,
            now=at,
            subscriber_id=sent.ids[reader] if reader else None,
        )
    tracking.record_open(db, edition_id=sent.edition_id, scanner=False, now=at)
    tracking.record_open(db, edition_id=sent.edition_id, scanner=True, now=at)
    db.close()


def _sign_ups(sent: Sent) -> None:
    """Web sign-ups through the core: in 2026-W48 three readers ask (one of them twice) and
    two confirm, after 1 h and 3 h; in 2026-W47 one asks and confirms after 30 min."""
    db = open_db(sent.db_path)
    clock = Clock()
    core = app_for(db, clock=clock)
    courts = sent.categories["Courts"]
    choices = Choices("", (courts,), ("Courts",), Frequency.WEEKLY)
    plan = [
        ("new1@example.com", NOW - timedelta(days=3), timedelta(hours=1)),
        ("new2@example.com", NOW - timedelta(days=2), timedelta(hours=3)),
        ("new3@example.com", NOW - timedelta(days=1), None),
        ("new3@example.com", NOW - timedelta(hours=20), None),  # "send me a new link"
        ("old1@example.com", NOW - timedelta(days=8), timedelta(minutes=30)),
    ]
    for email, asked, wait in plan:
        clock.now = asked
        core.sign_up(email, choices, "web")
        if wait is None:
            continue
        reader = subscribers_store.get_subscriber_by_email(db, email)
        assert reader is not None
        request_id = consent_store.latest_request_id(db, reader.id)
        assert request_id is not None
        request = consent_store.get_request(db, request_id)
        assert request is not None
        clock.now = asked + wait
        core.confirm(ConfirmClaim(request_id, request.nonce, address_tag(email)), "192.0.2.1")
    db.close()


def zero(**figures: int) -> dict[str, int]:
    base = dict.fromkeys(
        (
            "recipients",
            "sent",
            "pending",
            "deferred",
            "failed",
            "undeliverable",
            "skipped",
            "bounced_hard",
            "bounced_soft",
            "complained",
            "policy",
            "unsubscribed",
        ),
        0,
    )
    return base | figures


def test_editions_stats_json_counts_exactly(sent: Sent) -> None:
    result = cli_run(sent.db_path, "editions", "stats", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == cli_json(sent, str(sent.edition_id))  # no ID: the latest sent
    assert data["edition"] == {
        "id": sent.edition_id,
        "frequency": "weekly",
        "period": "2026-W48",
        "status": "sent",
        "started_at": "2026-11-28T09:00:00Z",
        "completed_at": "2026-11-28T09:00:00Z",
    }
    assert data["unsubscribe_window_days"] == 7
    # Ana (one-click) and Ben (the page) through this edition's links; Dan's old link names
    # no edition; Cat's came eight days later.
    assert data["deliveries"] == zero(recipients=5, sent=5, bounced_hard=1, unsubscribed=2)
    people = {"clicks": 3, "scanner_clicks": 1, "readers": 1}
    assert data["categories"] == [
        {
            "category": "Opioid Drugs",
            "slug": "opioid-drugs",
            **zero(recipients=2, sent=2, bounced_hard=1, unsubscribed=1),
            "clicks": {"clicks": 1, "scanner_clicks": 0, "readers": None},
        },
        {
            "category": "Consumer Safety",
            "slug": "consumer-safety",
            **zero(recipients=2, sent=2),
            "clicks": {"clicks": 0, "scanner_clicks": 0, "readers": None},
        },
        {
            "category": "Courts",
            "slug": "courts",
            **zero(recipients=3, sent=3, unsubscribed=2),
            "clicks": people | {"readers": 2},
        },
    ]
    assert data["clicks"] == {
        "clicks": 4,
        "scanner_clicks": 1,
        "readers": 2,
        "articles": [  # most clicked first, then in the site's category order
            {
                "article_id": "a-c1",
                "title": "Article c1",
                "url": "https://news.example.com/c1",
                "category": "Courts",
                "clicks": 2,
                "scanner_clicks": 1,
                "readers": 1,
            },
            {
                "article_id": "a-o1",
                "title": "Article o1",
                "url": "https://news.example.com/o1",
                "category": "Opioid Drugs",
                "clicks": 1,
                "scanner_clicks": 0,
                "readers": None,
            },
            {
                "article_id": "a-c2",
                "title": "Article c2",
                "url": "https://news.example.com/c2",
                "category": "Courts",
                "clicks": 1,
                "scanner_clicks": 0,
                "readers": 1,
            },
        ],
    }
    assert data["opens"] == {
        "opens": 1,
        "scanner_opens": 1,
        "readers": None,
        "label": "opens (unreliable: mail privacy features prefetch images)",
    }


def cli_json(sent: Sent, *args: str) -> Any:
    result = cli_run(sent.db_path, "editions", "stats", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_api_edition_stats_are_the_same_figures(sent: Sent) -> None:
    settings = settings_for(sent.db_path)
    core = App.open(settings, clock=lambda: REPORT_AT)
    key = core.add_api_key("reports", "read").token
    client = create_app(settings, clock=lambda: REPORT_AT).test_client()
    auth = {"Authorization": f"Bearer {key}"}
    answer = client.get(f"/api/v1/editions/{sent.edition_id}/stats", headers=auth)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"stats": cli_json(sent, str(sent.edition_id))}
    missing = client.get("/api/v1/editions/999/stats", headers=auth)
    assert missing.status_code == 404 and "999" in missing.get_json()["detail"]
    core.close()


def test_unsubscribe_events_name_the_edition_only_through_its_links(sent: Sent) -> None:
    db = open_db(sent.db_path)
    rows = {
        r[0]: (r[1], r[2])
        for r in db.execute(
            "SELECT s.email, e.source, e.edition_id FROM events e"
            " JOIN subscribers s ON s.id = e.subscriber_id WHERE e.kind = 'unsubscribed'"
        )
    }
    db.close()
    assert rows == {
        "ana@example.com": ("one-click", sent.edition_id),
        "ben@example.com": ("web", sent.edition_id),
        "cat@example.com": ("one-click", sent.edition_id),
        "dan@example.com": ("one-click", None),
    }


def test_editions_stats_csv_has_a_row_per_category(sent: Sent) -> None:
    result = cli_run(sent.db_path, "editions", "stats", str(sent.edition_id), "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0][:4] == ["category", "slug", "recipients", "sent"]
    assert rows[0][-3:] == ["clicks", "scanner_clicks", "click_readers"]
    table = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [
        (r["category"], r["recipients"], r["bounced_hard"], r["unsubscribed"]) for r in table
    ] == [
        ("Opioid Drugs", "2", "1", "1"),
        ("Consumer Safety", "2", "0", "0"),
        ("Courts", "3", "0", "2"),
    ]
    assert [(r["clicks"], r["scanner_clicks"], r["click_readers"]) for r in table] == [
        ("1", "0", ""),
        ("0", "0", ""),
        ("3", "1", "2"),
    ]


def test_editions_stats_text(sent: Sent) -> None:
    result = cli_run(sent.db_path, "editions", "stats", str(sent.edition_id))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:6] == [
        f"Edition {sent.edition_id}: weekly 2026-W48 (sent), started 2026-11-28 09:00 UTC",
        "Recipients 5: sent 5, deferred 0, failed 0, undeliverable 0, skipped 0, pending 0",
        "Bounced: 1 hard, 0 soft; complained 0; policy rejections 0",
        "Unsubscribed through this edition's links within 7 days: 2",
        "Clicks: 4 by people (2 readers); 1 by link scanners (counted apart)",
        "Opens (unreliable: mail privacy features prefetch images): 1 (1 by scanners)",
    ]
    assert (
        "Courts                      3     3      0      0     0     0      0      2      3      1"
        in lines
    )


def test_stats_weeks_json_trend_and_funnel(sent: Sent) -> None:
    result = cli_run(sent.db_path, "stats", "--weeks", "12", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["weeks"][0] == "2026-W39" and data["weeks"][-1] == "2026-W50"
    assert len(data["weeks"]) == 12

    def active(slug: str) -> dict[str, dict[str, int]]:
        (category,) = [c for c in data["categories"] if c["slug"] == slug]
        return {
            w["week"]: {k: v for k, v in w.items() if k != "week"}
            for w in category["weeks"]
            if any(v for k, v in w.items() if k != "week")
        }

    figures = {"readers": 0, "unsubscribes": 0, "clicks": 0, "scanner_clicks": 0}
    # Unsubscribes by the week they happened and the reader's categories, whatever link.
    assert active("courts") == {
        "2026-W48": figures | {"readers": 3, "unsubscribes": 1, "clicks": 3, "scanner_clicks": 1},
        "2026-W49": figures | {"unsubscribes": 2},  # Ben, and Dan (an old link)
    }
    assert active("opioid-drugs") == {
        "2026-W48": figures | {"readers": 2, "unsubscribes": 1, "clicks": 1},
    }
    assert active("consumer-safety") == {
        "2026-W48": figures | {"readers": 2},
        "2026-W49": figures | {"unsubscribes": 2},  # Cat (late) and Dan
    }
    frequencies = {
        f["frequency"]: [w for w in f["weeks"] if w["editions"]] for f in data["frequencies"]
    }
    assert frequencies == {
        "weekly": [
            {
                "week": "2026-W48",
                "editions": 1,
                "recipients": 5,
                "sent": 5,
                "bounced_hard": 1,
                "bounced_soft": 0,
                "complained": 0,
                "unsubscribed": 2,
            }
        ],
        "daily": [],
    }
    funnel = {f["week"]: f for f in data["funnel"] if f["signups"]}
    assert funnel == {
        "2026-W47": {
            "week": "2026-W47",
            "signups": 1,
            "confirmations": 1,
            "confirmation_rate": 1.0,
            "median_seconds_to_confirm": 1800.0,
        },
        "2026-W48": {
            "week": "2026-W48",
            "signups": 3,
            "confirmations": 2,
            "confirmation_rate": 0.6667,
            "median_seconds_to_confirm": 7200.0,
        },
    }


def test_stats_text_shows_the_funnel(sent: Sent) -> None:
    result = cli_run(sent.db_path, "stats", "--weeks", "4")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Weeks 2026-W47 to 2026-W50 (UTC, Monday to Sunday)\n")
    assert result.output.endswith(
        "Weekly editions\n"
        "  WEEK       EDITIONS  RECIP.   SENT  HARD  SOFT COMPL. UNSUB.\n"
        "  2026-W48          1       5      5     1     0      0      2\n"
        "\n"
        "Sign-ups (web, confirmed by email)\n"
        "  WEEK       SIGN-UPS CONFIRMED  RATE  MEDIAN TO CONFIRM\n"
        "  2026-W47          1         1  100%  30m\n"
        "  2026-W48          3         2   67%  2h 0m\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("editions", "stats", "999"), "Error: no edition with id 999"),
        (("editions", "stats", "--json", "--csv"), "Error: --json and --csv: choose one"),
        (("stats", "--weeks", "0"), "Error: --weeks must be between 1 and 520, not 0"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    sent: Sent, args: tuple[str, ...], message: str
) -> None:
    result = cli_run(sent.db_path, *args)
    assert result.exit_code != 0
    assert result.output.splitlines()[-1].startswith(message), result.output
    assert "Traceback" not in result.output


def test_no_edition_sent_yet(tmp_path: Path) -> None:
    make_db(tmp_path / "empty.db").close()
    result = cli_run(tmp_path / "empty.db", "editions", "stats")
    assert result.exit_code == 1
    assert result.output == "Error: no edition has been sent yet: nothing to report\n"
