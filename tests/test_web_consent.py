"""Consent is bound to the sign-up request (issue #12): a confirm link activates exactly the
choices of the request it was mailed for, once, and only while no newer request exists.
Flask's test client over a real SQLite file and a real SMTP relay on loopback."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from digest.app import App, Choices
from digest.models import Frequency
from digest.store import Store
from digest.store import subscribers as subscribers_store
from digest.tokens import make_confirm_token, make_preferences_token, make_unsubscribe_token
from tests.builders import NOW
from tests.relay import running_relay
from tests.test_web import (
    SECRET,
    Web,
    active_subscriber,
    csrf_of,
    link_in,
    make_web,
    requested,
    sign_up,
)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    with running_relay() as relay:
        yield make_web(tmp_path, relay)


def confirm(web: Web, path: str, ip: str = "127.0.0.1") -> int:
    """Press the button on the confirm page (if there is one); the status of the answer."""
    page = web.client.get(path)
    if page.status_code != 200 or "Confirm my subscription" not in page.get_data(as_text=True):
        return page.status_code
    return web.client.post(
        path, data={"csrf_token": csrf_of(page)}, environ_base={"REMOTE_ADDR": ip}
    ).status_code


def latest_link(web: Web) -> str:
    return link_in(web.mail()[-1], "/c/")


def unsubscribe(web: Web, subscriber_id: int) -> None:
    web.client.post(
        f"/u/{make_unsubscribe_token(SECRET, subscriber_id)}",
        data={"List-Unsubscribe": "One-Click"},
    )


def test_confirm_applies_exactly_the_choices_of_its_request(web: Web) -> None:
    sign_up(web.client, "ann@example.com", ("courts",), name="Ann", frequency="daily")
    assert confirm(web, latest_link(web)) == 200
    ann = web.subscriber("ann@example.com")
    assert (ann.status, ann.name, ann.frequency, ann.categories) == (
        "active",
        "Ann",
        "daily",
        ("Courts",),
    )


def test_old_link_does_not_come_back_after_unsubscribe_and_a_strangers_sign_up(
    web: Web,
) -> None:
    """The first observed attack: L1 confirmed, the reader unsubscribes (L1 answers 410), a
    stranger signs the address up with other choices: L1 must still answer 410."""
    sign_up(web.client, "ann@example.com", ("courts",), name="Ann")
    first = latest_link(web)
    assert confirm(web, first) == 200
    ann = web.subscriber("ann@example.com")
    web.clock.now = NOW + timedelta(hours=1)
    unsubscribe(web, ann.id)
    assert web.client.get(first).status_code == 410

    web.clock.now = NOW + timedelta(hours=2)
    sign_up(
        web.client,
        "ann@example.com",
        ("opioid-drugs", "consumer-safety"),
        name="Mallory",
        frequency="daily",
        ip="203.0.113.9",
    )
    for _ in range(2):
        assert confirm(web, first) == 410
    page = web.client.get(first).get_data(as_text=True)
    assert "This link can no longer be used" in page
    ann = web.subscriber("ann@example.com")
    assert (ann.status, ann.categories, ann.name, ann.frequency) == (
        "unsubscribed",
        ("Courts",),
        "Ann",
        "weekly",
    )


def test_a_pending_readers_first_link_does_not_activate_a_strangers_later_choices(
    web: Web,
) -> None:
    """The second observed attack: the stranger's request supersedes the reader's link, and
    only the newest link (mailed to the reader's own inbox) can activate anything."""
    sign_up(web.client, "ann@example.com", ("courts",), name="Ann")
    first = latest_link(web)
    web.clock.now = NOW + timedelta(minutes=5)
    sign_up(web.client, "ann@example.com", ("opioid-drugs",), name="Mallory", ip="203.0.113.9")
    strangers = latest_link(web)
    assert strangers != first
    assert confirm(web, first) == 410
    assert web.subscriber("ann@example.com").status == "pending"
    # What the newest link would activate is exactly what that request asked for, and the
    # mail that carries it goes to the address's owner, who decides.
    assert requested(web, "ann@example.com") == ("Mallory", "weekly", ("Opioid Drugs",))
    assert [m.recipients for m in web.mail()] == [["ann@example.com"], ["ann@example.com"]]


def test_a_newer_sign_up_by_the_reader_supersedes_the_older_link(web: Web) -> None:
    sign_up(web.client, "ann@example.com", ("courts",))
    first = latest_link(web)
    web.clock.now = NOW + timedelta(minutes=1)
    sign_up(web.client, "ann@example.com", ("opioid-drugs", "courts"), frequency="daily")
    second = latest_link(web)
    assert confirm(web, first) == 410
    assert confirm(web, second) == 200
    ann = web.subscriber("ann@example.com")
    assert (ann.status, ann.categories, ann.frequency) == (
        "active",
        ("Opioid Drugs", "Courts"),
        "daily",
    )
    # Once active, any of their links says so (harmless), and changes nothing.
    assert web.client.get(first).status_code == 200
    assert "already subscribed" in web.client.get(second).get_data(as_text=True)


def test_active_readers_choices_cannot_be_changed_by_a_sign_up(web: Web) -> None:
    active_subscriber(web, "ann@example.com", name="Ann")
    sign_up(web.client, "ann@example.com", ("opioid-drugs",), name="Mallory", frequency="daily")
    [mail] = web.mail()
    assert mail.message["Subject"] == "You are already subscribed to Legal Reader"
    assert "/c/" not in mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    ann = web.subscriber("ann@example.com")
    assert (ann.status, ann.categories, ann.name, ann.frequency) == (
        "active",
        ("Courts",),
        "Ann",
        "weekly",
    )


def test_expired_link_then_a_new_one_keeps_the_requested_choices(web: Web) -> None:
    with time_machine.travel(datetime(2026, 11, 1, 12, 0, tzinfo=UTC), tick=False):
        sign_up(web.client, "late@example.com", ("consumer-safety",), name="Lee")
        first = latest_link(web)
    with time_machine.travel(datetime(2026, 11, 9, 12, 0, tzinfo=UTC), tick=False):
        page = web.client.get(first)
        assert page.status_code == 410
        web.client.post(
            "/c/resend", data={"csrf_token": csrf_of(page), "email": "late@example.com"}
        )
        fresh = latest_link(web)
        assert confirm(web, fresh) == 200
        assert confirm(web, first) == 410  # still expired
    late = web.subscriber("late@example.com")
    assert (late.status, late.categories, late.name) == ("active", ("Consumer Safety",), "Lee")


def test_resend_supersedes_the_earlier_link(web: Web) -> None:
    sign_up(web.client, "ann@example.com", ("courts",))
    first = latest_link(web)
    page = web.client.get("/c/not-a-token")  # the page with "send me a new link"
    resent = web.client.post(
        "/c/resend", data={"csrf_token": csrf_of(page), "email": "ann@example.com"}
    )
    assert resent.status_code == 200
    second = latest_link(web)
    assert confirm(web, first) == 410
    assert confirm(web, second) == 200


def test_reader_resubscribes_from_their_preferences_after_unsubscribing(web: Web) -> None:
    sign_up(web.client, "ann@example.com", ("courts",))
    assert confirm(web, latest_link(web)) == 200
    ann = web.subscriber("ann@example.com")
    web.clock.now = NOW + timedelta(days=1)
    unsubscribe(web, ann.id)
    path = f"/p/{make_preferences_token(SECRET, ann.id)}"
    preferences = web.client.get(path)
    web.client.post(
        path,
        data={
            "csrf_token": csrf_of(preferences),
            "action": "resubscribe",
            "categories": ["opioid-drugs"],
            "frequency": "daily",
            "name": "Ann",
        },
    )
    assert web.subscriber("ann@example.com").status == "unsubscribed"
    assert confirm(web, latest_link(web)) == 200
    ann = web.subscriber("ann@example.com")
    assert (ann.status, ann.categories, ann.frequency) == ("active", ("Opioid Drugs",), "daily")


def test_the_confirmation_mail_carries_no_typed_name(web: Web) -> None:
    sign_up(web.client, "ann@example.com", ("courts",), name="Your Bank Security Team")
    [mail] = web.mail()
    assert mail.message["To"] == "ann@example.com"
    raw = mail.message.as_string()
    assert "Bank" not in raw and "Hello" not in raw
    assert confirm(web, link_in(mail, "/c/")) == 200
    # Confirming applies the request as made, name included (the preferences page shows
    # it and lets the reader change it).
    assert web.subscriber("ann@example.com").name == "Your Bank Security Team"


def test_what_a_stranger_typed_is_kept_only_where_it_can_be_confirmed(web: Web) -> None:
    active_subscriber(web, "ann@example.com", name="Ann")
    sign_up(web.client, "ann@example.com", ("opioid-drugs",), name="Mallory")
    assert requested(web, "ann@example.com") == ("", "weekly", ())
    sign_up(web.client, "bob@example.com", ("courts",), name="Bob")
    db = web.db()
    bob = subscribers_store.get_subscriber_by_email(db, "bob@example.com")
    assert bob is not None
    subscribers_store.forget(db, bob.id, NOW, "test")
    remaining = db.execute(
        "SELECT COUNT(*) FROM signup_requests WHERE subscriber_id = ?", [bob.id]
    ).fetchone()[0]
    db.close()
    assert remaining == 0


def test_a_signed_token_with_the_wrong_nonce_or_address_is_not_valid(web: Web) -> None:
    sign_up(web.client, "ann@example.com", ("courts",))
    request_id = 1
    for token in (
        make_confirm_token(SECRET, request_id, "guessed-nonce", "ann@example.com"),
        make_confirm_token(SECRET, 999, "guessed-nonce", "ann@example.com"),
    ):
        assert web.client.get(f"/c/{token}").status_code == 404
    assert web.subscriber("ann@example.com").status == "pending"


def test_sign_up_runs_the_same_statements_for_known_and_unknown_addresses(
    tmp_path: Path,
) -> None:
    """No timing assertion: the statements each sign-up runs, traced by sqlite3, are the
    same list (parameters aside) for a new, pending, active, unsubscribed, bounced and
    forgotten address."""
    with running_relay() as relay:
        web = make_web(tmp_path, relay)
    db = web.db()
    active_subscriber(web, "active@example.com")
    for email, status in (
        ("pending@example.com", "pending"),
        ("gone@example.com", "unsubscribed"),
        ("bounced@example.com", "bounced"),
    ):
        subscriber_id = subscribe_with(web, email)
        subscribers_store.set_status(db, subscriber_id, status, NOW, "test")
    forgotten = subscribe_with(web, "forgotten@example.com")
    subscribers_store.forget(db, forgotten, NOW, "test")
    db.close()

    store = Store(web.settings.db_path, create=False)
    core = App(web.settings, store, clock=web.clock)
    choices = Choices("", (1,), ("Opioid Drugs",), Frequency.WEEKLY)
    core.sign_up("warm-up@example.com", choices)  # the statement cache, the first open
    traces: dict[str, list[str]] = {}
    for email in (
        "new@example.com",
        "pending@example.com",
        "active@example.com",
        "gone@example.com",
        "bounced@example.com",
        "forgotten@example.com",
    ):
        statements: list[str] = []
        conn: sqlite3.Connection = store.db.conn
        conn.set_trace_callback(statements.append)
        job = core.sign_up(email, choices)
        conn.set_trace_callback(None)
        assert job.kind in ("confirm", "welcome_back", "none")
        traces[email] = [_shape(s) for s in statements]
    first = traces["new@example.com"]
    assert len(first) >= 4
    for email, trace in traces.items():
        assert trace == first, email


def subscribe_with(web: Web, email: str) -> int:
    return active_subscriber(web, email)


def _shape(statement: str) -> str:
    """The statement without its values (sqlite3 traces them expanded)."""
    return re.sub(r"'[^']*'|\b\d+\b", "?", " ".join(statement.split()))
