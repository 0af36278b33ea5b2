"""Bounces and complaints: real-world-shaped reports in, statuses and events out, against a
real SQLite file (and, for suppression, a real send to a real SMTP server)."""

from __future__ import annotations

import dataclasses
import mailbox
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from digest.app import App, Choices
from digest.bounces import failure_kind, parse_report
from digest.config import BounceSettings, SenderSettings, Settings
from digest.deliver.smtp import classify
from digest.errors import InputError
from digest.models import Frequency
from digest.store import editions as edition_store
from digest.store import leases, open_db
from digest.store.bounces import bounce_counts
from digest.store.subscribers import events_for, get_subscriber_by_email, set_status
from digest.tokens import read_verp, verp_address
from tests.builders import (
    NOW,
    add_articles,
    app_for,
    article,
    make_db,
    send_at,
    settings_for,
    subscribe,
)
from tests.relay import Relay, running_relay

FIXTURES = Path(__file__).parent / "fixtures" / "bounces"
# One reader per fixture; each got the W48 edition with Message-ID <w48-LOCAL@news.example.com>.
READERS = (
    "pat@example.com",
    "eve@example.net",
    "gus@gmail.com",
    "gail@gmail.com",
    "max@outlook.com",
    "olga@hotmail.com",
    "sam@example.org",
    "cat@yahoo.com",
    "dan@aol.com",
    "sue@example.org",
    "quinn@example.com",
    "ana@example.com",
    "bo@example.com",
)
LATER = NOW + timedelta(days=1)  # when the reports are imported


@dataclasses.dataclass
class World:
    db: sqlite_utils.Database
    settings: Settings
    edition_id: int
    path: Path


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    for email in READERS:
        subscribe(db, email, ("Courts",))
    edition_id = _edition(db, "2026-W48", NOW, {e: _mid(e) for e in READERS})
    yield World(db, settings_for(path), edition_id, path)
    db.close()


def _app(world: World, now: datetime) -> App:
    """The application core over the world's database and settings, its clock at ``now``."""
    return app_for(world.db, world.settings, clock=lambda: now)


def _mid(email: str, week: str = "w48") -> str:
    return f"<{week}-{email.split('@')[0]}@news.example.com>"


def _edition(
    db: sqlite_utils.Database, period: str, sent_at: datetime, message_ids: dict[str, str]
) -> int:
    """An edition as the send loop leaves it: every listed reader 'sent' with a Message-ID."""
    edition = edition_store.create_edition(
        db,
        frequency="weekly",
        period=period,
        starts_at=sent_at - timedelta(days=7),
        ends_at=sent_at,
        now=sent_at,
    )
    generation = leases.acquire_send_lock(db, edition.id, sent_at)
    for email, message_id in message_ids.items():
        reader = get_subscriber_by_email(db, email)
        assert reader is not None
        edition_store.mark_sending(
            db, edition.id, reader.id, message_id, sent_at, generation=generation
        )
        edition_store.mark_delivery(db, edition.id, reader.id, "sent", sent_at)
    leases.release_send_lock(db, edition.id, generation)
    return edition.id


def _status(db: sqlite_utils.Database, email: str) -> str:
    reader = get_subscriber_by_email(db, email)
    assert reader is not None
    return reader.status


def _events(db: sqlite_utils.Database, email: str) -> list[tuple[str, str, str]]:
    reader = get_subscriber_by_email(db, email)
    assert reader is not None
    return [(e.kind, e.source, e.detail) for e in events_for(db, reader.id)][1:]  # not 'subscribed'


def _snapshot(db: sqlite_utils.Database) -> list[tuple[object, ...]]:
    return [
        *db.execute("SELECT id, status, unsubscribed_at FROM subscribers ORDER BY id").fetchall(),
        *db.execute("SELECT * FROM events ORDER BY id").fetchall(),
        *db.execute("SELECT * FROM bounces ORDER BY id").fetchall(),
    ]


# -- each real-world format -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "email", "status", "kind", "evidence"),
    [
        (
            "postfix.eml",
            "pat@example.com",
            "bounced",
            "bounced",
            "hard bounce; 5.1.1; smtp; 550 5.1.1 <pat@example.com>: Recipient address rejected: "
            "User unknown in virtual mailbox table; edition 1; from {dir}/postfix.eml",
        ),
        (
            "exim.eml",
            "eve@example.net",
            "bounced",
            "bounced",
            "hard bounce; 5.1.1; 550 5.1.1 <eve@example.net>: Recipient address rejected: "
            "User unknown; edition 1; from {dir}/exim.eml",
        ),
        ("gmail.eml", "gus@gmail.com", "bounced", "bounced", "hard bounce; 5.1.1; smtp; 550-5.1.1"),
        (
            "microsoft.eml",
            "max@outlook.com",
            "bounced",
            "bounced",
            "hard bounce; 5.1.10; smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not "
            "found by SMTP address lookup; edition 1; from {dir}/microsoft.eml",
        ),
        (
            "qmail.eml",
            "quinn@example.com",
            "bounced",
            "bounced",
            "hard bounce; 5.1.1; Sorry, no mailbox here by that name. (#5.1.1); edition 1; "
            "from {dir}/qmail.eml",
        ),
        (
            "ses-bounce.eml",
            "sam@example.org",
            "bounced",
            "bounced",
            "hard bounce; 5.1.1; smtp; 550 5.1.1 sam@example.org: Recipient address rejected",
        ),
        (
            "arf-yahoo.eml",
            "cat@yahoo.com",
            "complained",
            "complained",
            "complaint; feedback-type abuse from Yahoo!-Mail-Feedback/2.0; edition 1; "
            "from {dir}/arf-yahoo.eml",
        ),
        (
            "arf-redacted.eml",
            "dan@aol.com",
            "complained",
            "complained",
            "complaint; feedback-type abuse from ExampleFBL/1.3; edition 1",
        ),
        (
            "ses-complaint.eml",
            "sue@example.org",
            "complained",
            "complained",
            "complaint; SES complaint, feedback-type abuse; edition 1",
        ),
        (
            "gmail-over-quota.eml",
            "gail@gmail.com",
            "active",
            "soft_bounce",
            "soft bounce; 5.2.2; smtp; 552-5.2.2 The recipient's inbox is out of storage space",
        ),
    ],
)
def test_each_report_format_moves_exactly_its_reader(
    world: World, fixture: str, email: str, status: str, kind: str, evidence: str
) -> None:
    report = _app(world, LATER).import_bounces([FIXTURES / fixture])
    assert report.unrecognised == []
    assert _status(world.db, email) == status
    events = _events(world.db, email)
    assert len(events) == 1
    assert events[0][:2] == (kind, "bounces")
    assert events[0][2].startswith(evidence.format(dir=FIXTURES))
    others = [e for e in READERS if e != email]
    assert {_status(world.db, e) for e in others} == {"active"}


def test_policy_rejection_is_reported_not_held_against_the_reader(world: World) -> None:
    report = _app(world, LATER).import_bounces([FIXTURES / "microsoft-policy.eml"])
    assert (report.policy, report.changes) == (1, [])
    assert report.policy_details == [
        (
            str(FIXTURES / "microsoft-policy.eml"),
            "policy rejection; 5.7.1; smtp; 550 5.7.1 Unfortunately, messages from [203.0.113.7] "
            "weren't sent. Please contact your Internet service provider since part of their "
            "network is on our block list (S3150).; edition 1; from "
            f"{FIXTURES / 'microsoft-policy.eml'}",
        )
    ]
    assert _status(world.db, "olga@hotmail.com") == "active"
    assert _events(world.db, "olga@hotmail.com") == []
    assert bounce_counts(world.db, world.edition_id) == {
        "hard": 0,
        "soft": 0,
        "complaints": 0,
        "policy": 1,
    }
    # Many more, from SMTP time, over several editions: still not the reader's fault.
    olga = get_subscriber_by_email(world.db, "olga@hotmail.com")
    assert olga is not None
    for day in range(1, 6):
        kind = _app(world, LATER + timedelta(days=day)).record_smtp_failure(
            olga.id, None, 554, "5.7.1 Service unavailable; client host blocked"
        )
        assert kind == "policy"
    assert (
        _app(world, LATER).record_smtp_failure(olga.id, None, 421, "4.7.28 rate limited")
        == "policy"
    )
    assert _status(world.db, "olga@hotmail.com") == "active"


def test_unrelated_and_malformed_messages_change_nothing(world: World) -> None:
    before = _snapshot(world.db)
    names = (
        "reply.eml",
        "out-of-office.eml",
        "unknown-address.eml",
        "malformed.eml",
        "garbage.eml",
        "postfix-delayed.eml",
    )
    report = _app(world, LATER).import_bounces([FIXTURES / n for n in names])
    assert _snapshot(world.db) == before
    assert report.messages == 6
    assert (report.hard, report.soft, report.complaints, report.policy) == (0, 0, 0, 0)
    assert [(Path(o).name, r) for o, r in report.unrecognised] == [
        ("reply.eml", "not a bounce or complaint report"),
        ("out-of-office.eml", "auto-reply (out of office or similar), not a bounce"),
        (
            "unknown-address.eml",
            "dsn report for nobody@nowhere.example: no subscriber matches "
            "(neither the Message-ID, the envelope nor the address is ours)",
        ),
        ("malformed.eml", "not a bounce or complaint report"),
        ("garbage.eml", "not an email message (no headers)"),
    ]
    assert [(Path(o).name, r) for o, r in report.ignored] == [
        ("postfix-delayed.eml", "delivery status notification: delay, no failure"),
    ]


def test_importing_the_same_messages_twice_changes_nothing(world: World) -> None:
    first = _app(world, LATER).import_bounces([FIXTURES])
    assert first.messages == 17
    assert (first.hard, first.soft, first.complaints, first.policy) == (6, 1, 3, 1)
    assert len(first.changes) == 9
    after_first = _snapshot(world.db)
    second = _app(world, LATER + timedelta(hours=1)).import_bounces([FIXTURES])
    assert _snapshot(world.db) == after_first
    # Recognised messages are remembered; unrecognised ones are listed again.
    assert second.already_imported == 12
    assert len(second.unrecognised) == 5
    assert second.changes == []


def test_mbox_and_maildir(world: World, tmp_path: Path) -> None:
    mbox_path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(mbox_path)
    for name in ("postfix.eml", "ses-complaint.eml", "reply.eml"):
        box.add((FIXTURES / name).read_bytes())
    box.close()
    maildir_path = tmp_path / "Maildir"
    maildir = mailbox.Maildir(maildir_path)
    for name in ("gmail.eml", "arf-yahoo.eml", "out-of-office.eml", "postfix.eml"):
        maildir.add((FIXTURES / name).read_bytes())
    report = _app(world, LATER).import_bounces([mbox_path, maildir_path])
    assert report.messages == 7
    # postfix.eml is in both: the Maildir copy is recognised by its Message-ID.
    assert report.already_imported == 1
    assert [(c.email, c.new) for c in report.changes] == [
        ("pat@example.com", "bounced"),
        ("sue@example.org", "complained"),
        ("gus@gmail.com", "bounced"),
        ("cat@yahoo.com", "complained"),
    ]
    assert len(report.unrecognised) == 2
    assert report.unrecognised[0][0] == f"{mbox_path}#3"
    assert report.unrecognised[1][0].startswith(f"{maildir_path}/")
    event = _events(world.db, "pat@example.com")[0]
    assert event[2].endswith(f"from {mbox_path}#1")
    # Reading a Maildir leaves it as it was: nothing moved from new/ to cur/.
    assert len(list((maildir_path / "new").iterdir())) == 4


def test_a_path_that_is_not_there_is_an_input_error(world: World, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        _app(world, LATER).import_bounces([tmp_path / "nope.mbox"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a Maildir"):
        _app(world, LATER).import_bounces([tmp_path / "empty"])


# -- soft bounces ---------------------------------------------------------------------------


def _soft_dsn(email: str, message_id: str, date: datetime, status: str = "4.2.2") -> bytes:
    """A Postfix-shaped 'gave up' DSN for a full mailbox."""
    template = (FIXTURES / "postfix.eml").read_text()
    text = (
        template.replace("pat@example.com", email)
        .replace("<w48-pat@news.example.com>", message_id)
        .replace("Sat, 28 Nov 2026 09:01:12 +0000 (UTC)", f"{date:%a, %d %b %Y %H:%M:%S +0000}")
        .replace(
            "<20261128090112.3F2A1C0123@mail.news.example.com>",
            f"<dsn{date:%Y%m%d%H%M}.{message_id[1:]}",  # each report its own Message-ID
        )
        .replace("Status: 5.1.1", f"Status: {status}")
        .replace("550 5.1.1", f"552 {status}")
    )
    return text.encode()


def _import_bytes(world: World, tmp_path: Path, raw: bytes, now: datetime) -> None:
    path = tmp_path / f"dsn-{now:%Y%m%d%H%M%S}.eml"
    path.write_bytes(raw)
    _app(world, now).import_bounces([path])


def test_soft_bounces_count_per_edition_and_age_out(world: World, tmp_path: Path) -> None:
    email = "gail@gmail.com"
    weeks = {w: NOW + timedelta(days=7 * (w - 48)) for w in (49, 50, 51, 52, 53)}
    for w, at in weeks.items():
        _edition(world.db, f"2026-W{w}", at, {email: _mid(email, f"w{w}")})
    # W48: the first soft bounce.
    _import_bytes(world, tmp_path, _soft_dsn(email, _mid(email), NOW), NOW + timedelta(hours=1))
    # The same edition reported again by a second DSN: still one.
    _import_bytes(
        world,
        tmp_path,
        _soft_dsn(email, _mid(email), NOW + timedelta(hours=5), "5.2.2"),
        NOW + timedelta(hours=6),
    )
    assert _status(world.db, email) == "active"
    # W53, 35 days later: W48's has aged out of the 30-day window.
    _import_bytes(world, tmp_path, _soft_dsn(email, _mid(email, "w53"), weeks[53]), weeks[53])
    assert _status(world.db, email) == "active"
    _import_bytes(
        world,
        tmp_path,
        _soft_dsn(email, _mid(email, "w49"), weeks[49]),
        weeks[53] + timedelta(hours=1),
    )
    # W49 is 28 days old: W49 and W53, two editions in the window, one short of the limit.
    assert _status(world.db, email) == "active"
    _import_bytes(
        world,
        tmp_path,
        _soft_dsn(email, _mid(email, "w51"), weeks[51]),
        weeks[53] + timedelta(hours=2),
    )
    assert _status(world.db, email) == "bounced"
    kinds = [k for k, _, _ in _events(world.db, email)]
    assert kinds == ["soft_bounce"] * 5 + ["bounced"]
    detail = _events(world.db, email)[-1][2]
    assert detail.startswith("3 soft bounces within 30 days (limit 3); latest: soft bounce; 4.2.2;")


def test_soft_limit_and_window_come_from_settings(world: World, tmp_path: Path) -> None:
    world.settings = dataclasses.replace(
        world.settings, bounces=BounceSettings(soft_limit=1, soft_window_days=7)
    )
    _import_bytes(
        world, tmp_path, _soft_dsn("ana@example.com", _mid("ana@example.com"), NOW), LATER
    )
    assert _status(world.db, "ana@example.com") == "bounced"


def test_smtp_time_failures_feed_the_same_policy(world: World) -> None:
    bo = get_subscriber_by_email(world.db, "bo@example.com")
    assert bo is not None
    # Editions still open for bo (deliveries 'pending' or 'deferred').
    editions = [
        _edition(world.db, f"2026-W{w}", NOW + timedelta(days=7 * (w - 48)), {})
        for w in (49, 50, 51)
    ]
    # A 4xx give-up per edition ('deferred'), retried in two sends of the first: counted once.
    for i, edition_id in enumerate([editions[0], editions[0], editions[1]]):
        kind = _app(world, NOW + timedelta(days=i)).record_smtp_failure(
            bo.id, edition_id, 452, "4.2.2 Mailbox full"
        )
        assert kind == "soft"
    assert _status(world.db, "bo@example.com") == "active"
    assert (
        _app(world, NOW).record_smtp_failure(bo.id, editions[2], 0, "cannot connect to the relay")
        is None
    )
    assert _status(world.db, "bo@example.com") == "active"
    _app(world, NOW + timedelta(days=14)).record_smtp_failure(
        bo.id, editions[2], 550, "5.4.1 Recipient address rejected: Access denied"
    )
    assert _status(world.db, "bo@example.com") == "bounced"
    assert [k for k, s, _ in _events(world.db, "bo@example.com")] == ["soft_bounce"] * 4 + [
        "bounced"
    ]
    ana = get_subscriber_by_email(world.db, "ana@example.com")
    assert ana is not None
    assert (
        _app(world, NOW).record_smtp_failure(ana.id, world.edition_id, 550, "5.1.1 no such user")
        == "hard"
    )
    assert _events(world.db, "ana@example.com") == [
        ("bounced", "smtp", "hard bounce; 5.1.1; 550 5.1.1 no such user; edition 1")
    ]
    # A give-up on a delivery that a later send got through after all is no failure.
    dan = get_subscriber_by_email(world.db, "dan@aol.com")
    assert dan is not None
    for day in range(3):
        _app(world, NOW + timedelta(days=day)).record_smtp_failure(
            dan.id, world.edition_id, 451, "4.3.0 try later"
        )
    assert _status(world.db, "dan@aol.com") == "active"
    counts = bounce_counts(world.db, world.edition_id)
    assert counts == {"hard": 1, "soft": 0, "complaints": 0, "policy": 0}


@pytest.mark.parametrize(
    ("code", "reply", "kind"),
    [
        (550, "5.1.1 <x@example.com>: Recipient address rejected: User unknown", "hard"),
        (550, "5.1.10 RESOLVER.ADR.RecipientNotFound", "hard"),
        (550, "user unknown", "hard"),
        (554, "5.7.1 relaying denied", "policy"),
        (550, "5.7.26 unauthenticated email is not accepted (DMARC)", "policy"),
        (552, "5.2.2 mailbox full", "soft"),
        (554, "5.4.14 hop count exceeded", "soft"),
        (550, "mailbox unavailable", "soft"),
    ],
)
def test_smtp_time_and_report_classification_agree(code: int, reply: str, kind: str) -> None:
    """The send loop's classify() and the bounce policy give a reply the same meaning."""
    assert failure_kind("", f"{code} {reply}") == kind
    smtp_kind = classify(code, reply).kind
    assert (smtp_kind == "bounce") == (kind == "hard")


def test_a_generic_status_defers_to_the_specific_diagnostic() -> None:
    assert failure_kind("5.0.0", "smtp; 550 5.1.1 no such user") == "hard"
    assert failure_kind("5.0.0", "smtp; 550 requested action not taken") == "soft"
    assert failure_kind("", "host 192.5.1.10 said: 550 spam") == "soft"  # not an RFC 3463 code


# -- reactivation ---------------------------------------------------------------------------


def test_reactivate_with_a_reason_and_soft_bounces_start_over(world: World, tmp_path: Path) -> None:
    email = "gail@gmail.com"
    world.settings = dataclasses.replace(
        world.settings, bounces=BounceSettings(soft_limit=2, soft_window_days=30)
    )
    _edition(world.db, "2026-W49", NOW + timedelta(days=7), {email: _mid(email, "w49")})
    _import_bytes(world, tmp_path, _soft_dsn(email, _mid(email), NOW), LATER)
    _import_bytes(
        world,
        tmp_path,
        _soft_dsn(email, _mid(email, "w49"), NOW + timedelta(days=7)),
        NOW + timedelta(days=8),
    )
    assert _status(world.db, email) == "bounced"
    reader = _app(world, NOW + timedelta(days=9)).reactivate(
        email, "  mailbox cleaned up,\n ticket 4411 "
    )
    assert reader.status == "active"
    assert _events(world.db, email)[-1] == ("reactivated", "cli", "mailbox cleaned up, ticket 4411")
    # One more soft bounce: the two before the reactivation do not count again.
    _edition(world.db, "2026-W50", NOW + timedelta(days=14), {email: _mid(email, "w50")})
    _import_bytes(
        world,
        tmp_path,
        _soft_dsn(email, _mid(email, "w50"), NOW + timedelta(days=14)),
        NOW + timedelta(days=15),
    )
    assert _status(world.db, email) == "active"


def test_reactivate_refuses_what_it_should_not_undo(world: World) -> None:
    with pytest.raises(InputError, match=r"ana@example.com is active, not bounced or complained"):
        _app(world, LATER).reactivate("ana@example.com", "why not")
    ana = get_subscriber_by_email(world.db, "ana@example.com")
    assert ana is not None
    set_status(world.db, ana.id, "unsubscribed", NOW, "web")
    with pytest.raises(InputError, match="subscribers add --reactivate"):
        _app(world, LATER).reactivate("ana@example.com", "they asked")
    set_status(world.db, ana.id, "bounced", NOW, "smtp")
    with pytest.raises(InputError, match="a reason is required"):
        _app(world, LATER).reactivate("ana@example.com", "   ")
    assert _status(world.db, "ana@example.com") == "bounced"


# -- matching -------------------------------------------------------------------------------


def test_verp_return_path_names_the_reader(world: World, tmp_path: Path) -> None:
    world.settings = dataclasses.replace(
        world.settings, sender=SenderSettings(return_path="bounces+{token}@news.example.com")
    )
    bo = get_subscriber_by_email(world.db, "bo@example.com")
    assert bo is not None
    address = verp_address(world.settings, bo.id)
    assert address.startswith("bounces+d-") and address.endswith("@news.example.com")
    assert len(address.split("@")[0]) <= 64
    assert read_verp(world.settings, [address.upper()]) == bo.id  # case folded by a relay
    forged = address.replace(address[10], "0" if address[10] != "0" else "1", 1)
    assert read_verp(world.settings, [forged]) is None
    # A bounce for a forwarding address, with no original headers: only the VERP envelope
    # says whose it is.
    raw = (
        f"From: MAILER-DAEMON@mx.example.com\nTo: {address}\nSubject: failure notice\n"
        "Date: Sat, 28 Nov 2026 09:30:00 +0000\n\n"
        "Hi. This is the qmail-send program at mx.example.com.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<bo.forwarded@elsewhere.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n"
    ).encode()
    assert parse_report(raw).failures[0].recipient == "bo.forwarded@elsewhere.example"
    _import_bytes(world, tmp_path, raw, LATER)
    assert _status(world.db, "bo@example.com") == "bounced"


def test_a_report_naming_our_message_id_is_the_readers_even_for_another_address(
    world: World, tmp_path: Path
) -> None:
    raw = (
        (FIXTURES / "postfix.eml")
        .read_bytes()
        .replace(b"pat@example.com", b"pat.forward@elsewhere.example")
    )
    _import_bytes(world, tmp_path, raw, LATER)
    assert _status(world.db, "pat@example.com") == "bounced"


# -- suppression holds on every path --------------------------------------------------------


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as r:
        yield r


def test_bounced_and_complained_readers_are_never_mailed_again(
    tmp_path: Path, relay: Relay
) -> None:
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    for email in ("ana@example.com", "pat@example.com", "cat@yahoo.com"):
        subscribe(db, email, ("Courts",))
    add_articles(db, [article("k1", ("Courts",), NOW - timedelta(days=1))], NOW - timedelta(days=1))
    add_articles(db, [article("k2", ("Courts",), NOW + timedelta(days=6))], NOW + timedelta(days=6))
    settings = settings_for(path, relay.url)

    def send(at: datetime) -> None:
        send_at(db, settings, at)

    send(NOW)
    sent = {r.recipients[0]: r for r in relay.received}
    assert sorted(sent) == ["ana@example.com", "cat@yahoo.com", "pat@example.com"]
    # Bounce and complaint reports built from the messages the relay really received.
    pat_headers = sent["pat@example.com"].data.split(b"\r\n\r\n", 1)[0].decode()
    dsn = (FIXTURES / "postfix.eml").read_text().split("Return-Path: <bounces@", 1)[0]
    (tmp_path / "pat.eml").write_text(
        dsn + pat_headers.replace("\r\n", "\n") + "\n\n--"
        "3F2A1C0123.1795856472/mail.news.example.com--\n"
    )
    cat_message = sent["cat@yahoo.com"].data.decode().replace("\r\n", "\n")
    arf = (FIXTURES / "arf-yahoo.eml").read_text()
    head, _, _ = arf.partition("Content-Disposition: inline\n\n")
    boundary = "------=_Part_6631_1087712314.1764324900001--\n"
    (tmp_path / "cat.eml").write_text(
        head + "Content-Disposition: inline\n\n" + cat_message + "\n" + boundary
    )
    report = app_for(db, settings, clock=lambda: LATER).import_bounces(
        [tmp_path / "pat.eml", tmp_path / "cat.eml"]
    )
    assert [(c.email, c.new) for c in report.changes] == [
        ("pat@example.com", "bounced"),
        ("cat@yahoo.com", "complained"),
    ]
    # The edition is matched by the real Message-ID.
    assert bounce_counts(db, 1) == {"hard": 1, "soft": 0, "complaints": 1, "policy": 0}
    relay.received.clear()
    send(NOW + timedelta(days=7))
    assert [r.recipients for r in relay.received] == [["ana@example.com"]]
    # A CSV import does not bring them back either.
    csv_path = tmp_path / "readers.csv"
    csv_path.write_text("email,categories\npat@example.com,Courts\nCAT@yahoo.com,Courts\n")
    result = app_for(db, settings, clock=lambda: LATER).import_subscribers(str(csv_path))
    assert result.suppressed == ((2, "pat@example.com"), (3, "CAT@yahoo.com"))
    # Nor does signing up again on the web: the status stays, no confirmation is sent.
    choices = Choices(
        name="", category_ids=(1,), category_names=("Courts",), frequency=Frequency.WEEKLY
    )
    for email in ("pat@example.com", "cat@yahoo.com"):
        assert app_for(db, settings, clock=lambda: LATER).sign_up(email, choices).kind == "none"
    assert (_status(db, "pat@example.com"), _status(db, "cat@yahoo.com")) == (
        "bounced",
        "complained",
    )
    db.close()


def test_reports_about_nobody_we_know_are_not_remembered(tmp_path: Path) -> None:
    """With no readers, every report is unrecognised: listed, and read again next time."""
    shutil.copytree(FIXTURES, tmp_path / "inbox")
    db = open_db(tmp_path / "x.db")
    report = app_for(db, Settings(), clock=lambda: LATER).import_bounces([tmp_path / "inbox"])
    assert (report.messages, report.changes, report.already_imported) == (17, [], 0)
    assert len(report.unrecognised) == 16  # and the delay notice, which needs nothing
    again = app_for(db, Settings(), clock=lambda: LATER).import_bounces([tmp_path / "inbox"])
    assert (again.already_imported, len(again.unrecognised)) == (1, 16)
    db.close()
