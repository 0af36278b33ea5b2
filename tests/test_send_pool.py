"""Relay pools: two real relays (aiosmtpd on loopback), a real SQLite file. Messages spread
by weight; a relay killed mid-send, one answering 421, one refusing everything: every reader
gets one message (duplicates only for messages in flight on the killed relay), the report
names each relay's share and what happened to it, each delivery records its relay."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.app import App
from digest.config import RelaySettings, Settings, SmtpSettings, settings_from_dict
from digest.deliver.report import SendReport
from digest.errors import ConfigError
from digest.store import Store, open_db
from digest.store import editions as store
from tests.builders import NOW, add_articles, article, make_db, settings_for, subscribe
from tests.relay import Relay, running_relay

TIMEOUT = 30.0


@pytest.fixture
def relays() -> Iterator[tuple[Relay, Relay]]:
    with running_relay() as a, running_relay() as b:
        yield a, b


def _readers(tmp_path: Path, count: int) -> tuple[Path, list[str]]:
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    yesterday = NOW - timedelta(days=1)
    add_articles(db, [article("o1", ("Opioid Drugs",), yesterday)], imported=yesterday)
    emails = [f"reader{i:03d}@example.com" for i in range(count)]
    for email in emails:
        subscribe(db, email, ("Opioid Drugs",))
    db.close()
    return path, emails


def _settings(path: Path, *relays: RelaySettings, **sending: Any) -> Settings:
    return dataclasses.replace(
        settings_for(path, **sending),
        smtp=SmtpSettings(
            timeout=5.0, relays=relays, failures_before_backoff=2, backoff_seconds=600
        ),
    )


def _send(path: Path, settings: Settings) -> SendReport:
    """A real send through the pool the settings describe (the app's own transports)."""
    app = App(settings, Store.adopt(open_db(path)), clock=lambda: NOW)
    return app.send("weekly", NOW, sleep=lambda s: None, retry_delay=0)


def _relay_of_each(path: Path) -> dict[str, tuple[str, str]]:
    """reader -> (delivery status, relay) for the edition."""
    db = open_db(path)
    rows = db.execute(
        "SELECT s.email, d.status, d.relay FROM deliveries d JOIN subscribers s"
        " ON s.id = d.subscriber_id"
    ).fetchall()
    db.close()
    return {email: (status, relay) for email, status, relay in rows}


def _copies(*relays: Relay) -> dict[str, int]:
    out: dict[str, int] = {}
    for relay in relays:
        for rcpt, items in relay.by_recipient().items():
            out[rcpt] = out.get(rcpt, 0) + len(items)
    return out


def test_messages_spread_by_weight_and_each_delivery_names_its_relay(
    tmp_path: Path, relays: tuple[Relay, Relay]
) -> None:
    a, b = relays
    path, emails = _readers(tmp_path, 40)
    settings = _settings(
        path,
        RelaySettings(url=a.url, name="a", weight=3),
        RelaySettings(url=b.url, name="b", weight=1),
        concurrency=3,
    )
    report = _send(path, settings)
    assert report.status == "complete" and report.sent == 40
    assert (len(a.received), len(b.received)) == (30, 10)
    assert report.relays == {"a": 30, "b": 10}
    assert report.relay_shares() == "a 30 (75%), b 10 (25%)"
    assert report.as_dict()["relays"] == {"a": 30, "b": 10}
    rows = _relay_of_each(path)
    assert {e for e, (_, r) in rows.items() if r == "a"} == set(a.by_recipient())
    assert {e for e, (_, r) in rows.items() if r == "b"} == set(b.by_recipient())
    assert all(status == "sent" for status, _ in rows.values())
    assert sorted(_copies(a, b)) == emails and set(_copies(a, b).values()) == {1}


def test_a_relay_killed_mid_send_hands_its_messages_to_the_other(
    tmp_path: Path, relays: tuple[Relay, Relay]
) -> None:
    a, b = relays
    path, emails = _readers(tmp_path, 60)
    concurrency = 2
    settings = _settings(
        path,
        RelaySettings(url=a.url, name="a"),
        RelaySettings(url=b.url, name="b"),
        concurrency=concurrency,
    )
    a.hold_from = 6  # from its 6th message on, a takes the message and never answers
    result: list[SendReport] = []
    sender = threading.Thread(target=lambda: result.append(_send(path, settings)))
    sender.start()
    try:
        a.wait_for_held(concurrency, TIMEOUT)  # every sender is mid-message on a
    finally:
        a.stop()  # killed: the held messages get no answer, new connections are refused
    sender.join(TIMEOUT)
    assert not sender.is_alive()
    (report,) = result
    assert report.status == "complete" and report.sent == len(emails)
    copies = _copies(a, b)
    assert sorted(copies) == emails  # nobody skipped
    # Only the messages in flight on a when it died went twice, and kept their Message-ID.
    twice = [e for e, n in copies.items() if n > 1]
    assert len(twice) == concurrency and max(copies.values()) == 2
    for email in twice:
        ids = {
            r.message["Message-ID"] for r in [*a.by_recipient()[email], *b.by_recipient()[email]]
        }
        assert len(ids) == 1
    assert report.relays["a"] == 5 and report.relays["b"] == len(emails) - 5
    assert any(
        w.startswith("relay a: taken out for 600 s after 2 failures") for w in report.warnings
    )
    rows = _relay_of_each(path)
    assert all(rows[e] == ("sent", "b") for e in twice)


def test_a_relay_answering_421_is_taken_out_and_nobody_is_sent_twice(
    tmp_path: Path, relays: tuple[Relay, Relay]
) -> None:
    a, b = relays
    a.on_rcpt = lambda address: "421 4.3.2 Service shutting down"
    path, emails = _readers(tmp_path, 30)
    settings = _settings(
        path, RelaySettings(url=a.url, name="a"), RelaySettings(url=b.url, name="b")
    )
    report = _send(path, settings)
    assert report.status == "complete" and report.sent == 30 and not report.failed
    assert a.received == [] and sorted(b.by_recipient()) == emails
    assert set(_copies(b).values()) == {1}
    assert report.relays == {"a": 0, "b": 30}
    assert report.warnings == [
        "relay a: taken out for 600 s after 2 failures in a row "
        "(last: 421 4.3.2 Service shutting down)"
    ]
    assert set(_relay_of_each(path).values()) == {("sent", "b")}


def test_a_relay_refusing_everything_is_stopped_not_the_pool(
    tmp_path: Path, relays: tuple[Relay, Relay]
) -> None:
    a, b = relays
    a.on_rcpt = lambda address: "554 5.7.1 Relay access denied"
    path, emails = _readers(tmp_path, 20)
    settings = _settings(
        path,
        RelaySettings(url=a.url, name="a"),
        RelaySettings(url=b.url, name="b"),
        max_consecutive_failures=3,
    )
    report = _send(path, settings)
    assert report.status == "complete" and report.sent == 20
    assert not report.failed and not report.bounced
    assert sorted(b.by_recipient()) == emails and set(_copies(b).values()) == {1}
    assert report.warnings == [
        "relay a: stopped: answered 3 messages in a row with a refusal "
        "(last: 554 5.7.1 Relay access denied)"
    ]
    db = open_db(path)
    assert db.execute("SELECT COUNT(*) FROM bounces").fetchone()[0] == 0  # nobody's fault
    edition = store.find_edition(db, "weekly", "2026-W48")
    assert edition is not None and edition.status == "sent"


def test_a_pool_of_one_keeps_the_old_behaviour(tmp_path: Path, relays: tuple[Relay, Relay]) -> None:
    a, _ = relays
    path, _ = _readers(tmp_path, 5)
    settings = dataclasses.replace(settings_for(path), smtp=SmtpSettings(url=a.url, timeout=5.0))
    report = _send(path, settings)
    assert report.sent == 5 and not report.relays and "relays" not in report.as_dict()
    assert set(_relay_of_each(path).values()) == {("sent", f"127.0.0.1:{a.port}")}


def test_relays_from_toml_and_their_errors() -> None:
    settings = settings_from_dict(
        {
            "smtp": {
                "relays": [
                    {"url": "smtp://one.example:25", "weight": 2},
                    {"url": "smtps://two.example", "name": "two", "password_env": "TWO_PW"},
                ]
            }
        }
    )
    assert [r.label for r in settings.smtp.pool] == ["one.example:25", "two"]
    assert settings.smtp.pool[0].weight == 2
    with pytest.raises(ConfigError, match=r"^config: \[\[smtp.relays\]\] must be an array"):
        settings_from_dict({"smtp": {"relays": {"url": "smtp://x"}}})
    with pytest.raises(ConfigError, match=r"^config: smtp.relays\[0\].url: missing"):
        settings_from_dict({"smtp": {"relays": [{"weight": 1}]}})
    with pytest.raises(ConfigError, match=r"^config: smtp.relays\[1\].colour: unknown key"):
        settings_from_dict(
            {"smtp": {"relays": [{"url": "smtp://a"}, {"url": "smtp://b", "colour": 1}]}}
        )


def test_relays_at_their_hourly_limit_defer_the_rest(
    tmp_path: Path, relays: tuple[Relay, Relay]
) -> None:
    a, b = relays
    path, _ = _readers(tmp_path, 3)
    settings = _settings(
        path,
        RelaySettings(url=a.url, name="a", hourly_limit=1),
        RelaySettings(url=b.url, name="b", hourly_limit=1),
        concurrency=1,
        max_attempts=2,
    )
    report = _send(path, settings)
    assert (report.sent, report.deferred) == (2, 1)
    assert (len(a.received), len(b.received)) == (1, 1)
    deferred = [e for e, (status, _) in _relay_of_each(path).items() if status != "sent"]
    db = open_db(path)
    reply = db.execute("SELECT reply FROM deliveries WHERE status != 'sent'").fetchone()[0]
    db.close()
    assert len(deferred) == 1
    assert reply == "0 no relay available: a at its hourly limit, b at its hourly limit"


def test_an_address_one_relay_cannot_carry_goes_through_the_other(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    yesterday = NOW - timedelta(days=1)
    add_articles(db, [article("o1", ("Opioid Drugs",), yesterday)], imported=yesterday)
    subscribe(db, "josé@example.com", ("Opioid Drugs",))
    subscribe(db, "ann@example.com", ("Opioid Drugs",))
    db.close()
    with running_relay() as plain, running_relay(smtputf8=True) as utf8:
        settings = _settings(
            path,
            RelaySettings(url=plain.url, name="plain", weight=100),
            RelaySettings(url=utf8.url, name="utf8", weight=1),
            concurrency=1,
        )
        report = _send(path, settings)
        assert report.sent == 2 and not report.failed
        assert list(utf8.by_recipient()) == ["josé@example.com"]
        assert _relay_of_each(path)["josé@example.com"] == ("sent", "utf8")
