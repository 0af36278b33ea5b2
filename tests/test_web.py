"""The readers' web pages over HTTP (Flask's test client), against a real SQLite file and a
real SMTP relay on loopback: sign-up, confirm, preferences, unsubscribe, archive, and the
safety rules (CSRF, tokens, rate limits, enumeration, bad input, headers)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask
import pytest
import sqlite_utils
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from digest.config import Settings, WebSettings
from digest.store import consent as consent_store
from digest.store import editions as editions_store
from digest.store import open_db
from digest.store import subscribers as subscribers_store
from digest.store import web as web_store
from digest.tokens import make_preferences_token, make_unsubscribe_token
from digest.web import create_app, mailer_of
from tests.builders import NOW, add_articles, article, make_db, settings_for, subscribe
from tests.relay import Received, Relay, running_relay

SECRET = "test-secret-key"


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Web:
    app: Flask
    client: FlaskClient
    relay: Relay
    settings: Settings
    clock: Clock

    def db(self) -> sqlite_utils.Database:
        return open_db(self.settings.db_path)

    def mail(self) -> list[Received]:
        mailer_of(self.app).drain()
        return list(self.relay.received)

    def subscriber(self, email: str) -> Any:
        db = self.db()
        try:
            return subscribers_store.get_subscriber_by_email(db, email)
        finally:
            db.close()


def make_web(tmp_path: Path, relay: Relay, **web: Any) -> Web:
    db_path = tmp_path / "web.db"
    make_db(db_path).close()
    settings = settings_for(db_path, relay.url)
    settings = dataclasses.replace(settings, web=dataclasses.replace(WebSettings(), **web))
    clock = Clock()
    app = create_app(settings, clock=clock)
    return Web(app, app.test_client(), relay, settings, clock)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    with running_relay() as relay:
        yield make_web(tmp_path, relay)


def csrf_of(response: TestResponse) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match[1]


def sign_up(
    client: FlaskClient,
    email: str,
    categories: tuple[str, ...] = ("courts", "consumer-safety"),
    *,
    name: str = "",
    frequency: str = "weekly",
    ip: str = "127.0.0.1",
    **extra: str,
) -> TestResponse:
    token = csrf_of(client.get("/"))
    data: dict[str, Any] = {
        "csrf_token": token,
        "email": email,
        "name": name,
        "categories": list(categories),
        "frequency": frequency,
        "website": "",
        **extra,
    }
    return client.post("/subscribe", data=data, environ_base={"REMOTE_ADDR": ip})


def link_in(received: Received, prefix: str) -> str:
    body = received.message.get_body(("plain",))
    assert body is not None
    match = re.search(rf"https://news\.example\.com({prefix}[^\s]+)", body.get_content())
    assert match, f"no {prefix} link in the message"
    return match[1]


def errors_on(response: TestResponse) -> list[str]:
    return re.findall(r'<p class="error" id="([a-z]+)-error">', response.get_data(as_text=True))


def events(web: Web, subscriber_id: int) -> list[tuple[str, str, str]]:
    db = web.db()
    try:
        history = subscribers_store.events_for(db, subscriber_id)
    finally:
        db.close()
    return [(e.kind, e.source, e.detail) for e in history]


def requested(web: Web, email: str) -> tuple[str, str, tuple[str, ...]]:
    """(name, frequency, category names) of the address's latest sign-up request."""
    db = web.db()
    try:
        subscriber = subscribers_store.get_subscriber_by_email(db, email)
        assert subscriber is not None
        request_id = consent_store.latest_request_id(db, subscriber.id)
        assert request_id is not None
        request = consent_store.get_request(db, request_id)
        assert request is not None
        names = consent_store.category_names(db, request.category_ids)
        return request.name, request.frequency, names
    finally:
        db.close()


def active_subscriber(web: Web, email: str, **kwargs: Any) -> int:
    db = web.db()
    try:
        return subscribe(db, email, ("Courts",), **kwargs)
    finally:
        db.close()


# -- sign-up and confirm -------------------------------------------------------------------------


def test_sign_up_creates_a_pending_reader_and_mails_a_confirm_link(web: Web) -> None:
    response = sign_up(web.client, "Reader@Example.com", name="Ann", frequency="daily")
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    subscriber = web.subscriber("reader@example.com")
    assert (subscriber.status, subscriber.source) == ("pending", "web")
    # The choices wait in the request until the inbox's owner confirms it.
    assert subscriber.categories == () and subscriber.name == ""
    assert requested(web, "reader@example.com") == (
        "Ann",
        "daily",
        ("Consumer Safety", "Courts"),  # the site's order
    )
    [mail] = web.mail()
    assert mail.recipients == ["Reader@example.com"]
    assert mail.message["Subject"] == "Please confirm your subscription to Legal Reader"
    assert link_in(mail, "/c/")


def test_confirm_needs_the_button_then_activates_and_records_consent(web: Web) -> None:
    sign_up(web.client, "reader@example.com")
    path = link_in(web.mail()[0], "/c/")

    page = web.client.get(path)
    assert page.status_code == 200
    assert "Confirm my subscription" in page.get_data(as_text=True)
    assert web.subscriber("reader@example.com").status == "pending"  # a GET changes nothing

    web.clock.now = NOW + timedelta(hours=2)
    done = web.client.post(
        path, data={"csrf_token": csrf_of(page)}, environ_base={"REMOTE_ADDR": "198.51.100.7"}
    )
    assert done.status_code == 200
    assert "You are subscribed" in done.get_data(as_text=True)
    subscriber = web.subscriber("reader@example.com")
    assert subscriber.status == "active"
    assert subscriber.confirmed_at == NOW + timedelta(hours=2)
    assert ("confirmed", "web", "ip 198.51.100.7") in events(web, subscriber.id)
    db = web.db()
    assert web_store.consent_ip(db, subscriber.id) == "198.51.100.7"
    db.close()

    again = web.client.post(path, data={"csrf_token": csrf_of(page)})
    assert again.status_code == 200
    assert "already subscribed" in again.get_data(as_text=True)
    assert [e for e in events(web, subscriber.id) if e[0] == "confirmed"] == [
        ("confirmed", "web", "ip 198.51.100.7")
    ]


def test_expired_confirm_link_offers_a_new_one(web: Web) -> None:
    with time_machine.travel(datetime(2026, 11, 1, 12, 0, tzinfo=UTC), tick=False):
        sign_up(web.client, "late@example.com")
        path = link_in(web.mail()[0], "/c/")
    with time_machine.travel(datetime(2026, 11, 9, 12, 0, tzinfo=UTC), tick=False):
        page = web.client.get(path)
        assert page.status_code == 410
        text = page.get_data(as_text=True)
        assert "This link has expired" in text and "Send me a new link" in text
        assert web.subscriber("late@example.com").status == "pending"
        resent = web.client.post(
            "/c/resend", data={"csrf_token": csrf_of(page), "email": "late@example.com"}
        )
        assert resent.status_code == 200
        mails = web.mail()
        assert len(mails) == 2
        fresh = link_in(mails[1], "/c/")
        confirm_page = web.client.get(fresh)
        web.client.post(fresh, data={"csrf_token": csrf_of(confirm_page)})
    assert web.subscriber("late@example.com").status == "active"


def test_forged_and_cross_purpose_tokens_are_refused(web: Web) -> None:
    subscriber_id = active_subscriber(web, "reader@example.com")
    unsubscribe_token = make_unsubscribe_token(SECRET, subscriber_id)
    preferences_token = make_preferences_token(SECRET, subscriber_id)
    other_secret = make_unsubscribe_token("another-secret", subscriber_id)
    for path in (
        "/c/WzEsImFiYyJd.forged.signature",
        f"/c/{unsubscribe_token}",
        f"/p/{unsubscribe_token}",  # an unsubscribe token does not open the preferences
        f"/u/{preferences_token}",
        f"/u/{other_secret}",
        "/u/not-a-token",
        f"/u/{unsubscribe_token[:-1]}A" if not unsubscribe_token.endswith("A") else "/u/x.y",
    ):
        response = web.client.get(path)
        assert response.status_code == 404, path
        assert "This link is not valid" in response.get_data(as_text=True)
    one_click = web.client.post(f"/u/{preferences_token}", data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 404
    assert web.subscriber("reader@example.com").status == "active"


def test_confirm_link_for_a_changed_or_bounced_address_does_not_activate(web: Web) -> None:
    sign_up(web.client, "bounce@example.com")
    path = link_in(web.mail()[0], "/c/")
    db = web.db()
    subscriber_id = web.subscriber("bounce@example.com").id
    subscribers_store.set_status(db, subscriber_id, "bounced", NOW, "test")
    db.close()
    assert web.client.get(path).status_code == 404
    assert web.subscriber("bounce@example.com").status == "bounced"


# -- no enumeration ------------------------------------------------------------------------------


def test_answer_page_is_identical_for_new_pending_active_and_suppressed(web: Web) -> None:
    sign_up(web.client, "pending@example.com")
    active_subscriber(web, "active@example.com")
    bounced = active_subscriber(web, "bounced@example.com")
    db = web.db()
    subscribers_store.set_status(db, bounced, "bounced", NOW, "test")
    db.close()
    web.mail()
    web.relay.received.clear()

    answers = {
        email: sign_up(web.client, email)
        for email in (
            "new@example.com",
            "pending@example.com",
            "active@example.com",
            "bounced@example.com",
        )
    }
    first = answers["new@example.com"]
    for email, response in answers.items():
        assert response.status_code == first.status_code == 200, email
        assert response.data == first.data, email  # byte-identical: no token, no address
        assert dict(response.headers) == dict(first.headers), email

    by_recipient = {m.recipients[0]: m.message["Subject"] for m in web.mail()}
    assert by_recipient == {
        "new@example.com": "Please confirm your subscription to Legal Reader",
        "pending@example.com": "Please confirm your subscription to Legal Reader",
        "active@example.com": "You are already subscribed to Legal Reader",
    }
    # The active reader's choices were not touched by a stranger typing their address.
    assert web.subscriber("active@example.com").categories == ("Courts",)


def test_already_subscribed_mail_carries_the_preferences_link(web: Web) -> None:
    subscriber_id = active_subscriber(web, "active@example.com")
    sign_up(web.client, "active@example.com")
    [mail] = web.mail()
    assert link_in(mail, "/p/") == f"/p/{make_preferences_token(SECRET, subscriber_id)}"


def test_unsubscribed_reader_can_sign_up_again_with_a_new_confirmation(web: Web) -> None:
    subscriber_id = active_subscriber(web, "back@example.com")
    sign_up(web.client, "back@example.com")
    old_preferences_mail = web.mail()
    assert len(old_preferences_mail) == 1
    web.client.post(
        f"/u/{make_unsubscribe_token(SECRET, subscriber_id)}",
        data={"List-Unsubscribe": "One-Click"},
    )
    assert web.subscriber("back@example.com").status == "unsubscribed"

    web.clock.now = NOW + timedelta(days=1)
    sign_up(web.client, "back@example.com", ("opioid-drugs",), frequency="daily")
    mail = web.mail()[-1]
    assert mail.message["Subject"] == "Please confirm your subscription to Legal Reader"
    subscriber = web.subscriber("back@example.com")
    assert subscriber.status == "unsubscribed"  # nothing is sent until they confirm
    path = link_in(mail, "/c/")
    page = web.client.get(path)
    web.client.post(path, data={"csrf_token": csrf_of(page)})
    subscriber = web.subscriber("back@example.com")
    assert (subscriber.status, subscriber.categories, subscriber.frequency) == (
        "active",
        ("Opioid Drugs",),
        "daily",
    )


def test_confirm_link_from_before_an_unsubscribe_does_not_resubscribe(web: Web) -> None:
    sign_up(web.client, "reader@example.com")
    path = link_in(web.mail()[0], "/c/")
    page = web.client.get(path)
    web.client.post(path, data={"csrf_token": csrf_of(page)})
    subscriber = web.subscriber("reader@example.com")
    web.clock.now = NOW + timedelta(hours=1)
    web.client.post(
        f"/u/{make_unsubscribe_token(SECRET, subscriber.id)}",
        data={"List-Unsubscribe": "One-Click"},
    )
    again = web.client.get(path)
    assert again.status_code == 410
    assert "unsubscribed after this link was sent" in again.get_data(as_text=True)
    assert web.client.post(path, data={"csrf_token": csrf_of(page)}).status_code == 410
    assert web.subscriber("reader@example.com").status == "unsubscribed"


# -- one-click and GET safety --------------------------------------------------------------------


def test_one_click_post_unsubscribes_at_once_with_200_and_no_redirect(web: Web) -> None:
    subscriber_id = active_subscriber(web, "reader@example.com")
    path = f"/u/{make_unsubscribe_token(SECRET, subscriber_id)}"
    fresh = web.app.test_client(use_cookies=False)  # a mail provider: no cookie, no session
    response = fresh.post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "Set-Cookie" not in response.headers
    assert web.subscriber("reader@example.com").status == "unsubscribed"
    assert ("unsubscribed", "one-click", "") in events(web, subscriber_id)
    # Repeating it, also as multipart/form-data (RFC 8058 allows both), is harmless.
    repeat = fresh.post(
        path, data={"List-Unsubscribe": "One-Click"}, content_type="multipart/form-data"
    )
    assert repeat.status_code == 200
    assert [e for e in events(web, subscriber_id) if e[0] == "unsubscribed"] == [
        ("unsubscribed", "one-click", "")
    ]


def test_get_unsubscribe_page_asks_and_its_button_unsubscribes(web: Web) -> None:
    subscriber_id = active_subscriber(web, "reader@example.com")
    path = f"/u/{make_unsubscribe_token(SECRET, subscriber_id)}"
    for _ in range(3):  # a link scanner may follow it several times
        page = web.client.get(path)
        assert page.status_code == 200
    assert '<button type="submit">Unsubscribe</button>' in page.get_data(as_text=True)
    assert web.subscriber("reader@example.com").status == "active"
    done = web.client.post(path, data={"csrf_token": csrf_of(page)})
    assert done.status_code == 200 and "Location" not in done.headers
    assert "You are unsubscribed" in done.get_data(as_text=True)
    assert web.subscriber("reader@example.com").status == "unsubscribed"
    assert web.client.post(path, data={"csrf_token": csrf_of(page)}).status_code == 200


# -- CSRF ----------------------------------------------------------------------------------------


def test_forms_without_a_valid_csrf_token_are_refused(web: Web) -> None:
    subscriber_id = active_subscriber(web, "reader@example.com")
    unsubscribe = f"/u/{make_unsubscribe_token(SECRET, subscriber_id)}"
    preferences = f"/p/{make_preferences_token(SECRET, subscriber_id)}"
    other_form_token = csrf_of(web.client.get(unsubscribe))  # valid, but for another path
    attempts = [
        (unsubscribe, {}),
        (unsubscribe, {"csrf_token": "forged.token.value"}),
        (preferences, {"action": "unsubscribe"}),
        (preferences, {"action": "unsubscribe", "csrf_token": other_form_token}),
        (preferences, {"action": "save", "categories": ["courts"], "frequency": "daily"}),
        ("/subscribe", {"csrf_token": "stale", "email": "x@example.com", "categories": ["courts"]}),
        ("/c/resend", {"email": "reader@example.com"}),
    ]
    for path, data in attempts:
        response = web.client.post(path, data=data)
        assert response.status_code == 400, (path, data)
        text = response.get_data(as_text=True)
        assert "This form has expired" in text and "nothing was" in text, path
    subscriber = web.subscriber("reader@example.com")
    assert (subscriber.status, subscriber.frequency) == ("active", "weekly")
    assert web.subscriber("x@example.com") is None
    assert web.mail() == []


def test_embedded_form_without_a_token_signs_up(web: Web) -> None:
    """The snippet on the publisher's own site cannot carry our token (README)."""
    response = web.client.post(
        "/subscribe",
        data={
            "email": "embed@example.com",
            "categories": ["courts"],
            "website": "",
        },
    )
    assert response.status_code == 200
    subscriber = web.subscriber("embed@example.com")
    assert subscriber.status == "pending"
    assert ("signup", "web", "embed") not in events(web, subscriber.id)  # new: a pending event
    assert len(web.mail()) == 1


def test_honeypot_gets_the_usual_answer_and_nothing_happens(web: Web) -> None:
    response = sign_up(web.client, "bot@example.com", website="http://spam.example")
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    assert web.subscriber("bot@example.com") is None
    assert web.mail() == []


# -- rate limits ---------------------------------------------------------------------------------


def test_sign_ups_are_limited_per_ip(tmp_path: Path) -> None:
    with running_relay() as relay:
        web = make_web(tmp_path, relay, signup_limit_per_ip_per_hour=3)
        for i in range(3):
            assert sign_up(web.client, f"r{i}@example.com", ip="203.0.113.5").status_code == 200
        refused = sign_up(web.client, "r3@example.com", ip="203.0.113.5")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "3600"
        assert "too many sign-ups from your network" in refused.get_data(as_text=True)
        assert web.subscriber("r3@example.com") is None
        assert sign_up(web.client, "r4@example.com", ip="203.0.113.6").status_code == 200
        web.clock.now = NOW + timedelta(minutes=61)
        assert sign_up(web.client, "r5@example.com", ip="203.0.113.5").status_code == 200
        # The counters are in SQLite: a second app (another process) sees them.
        other = create_app(web.settings, clock=web.clock).test_client()
        for i in range(2):
            sign_up(other, f"s{i}@example.com", ip="203.0.113.5")
        assert sign_up(web.client, "s9@example.com", ip="203.0.113.5").status_code == 429
        # The table holds keyed hashes, never the IP itself.
        db = web.db()
        buckets = [r[0] for r in db.execute("SELECT bucket FROM web_rate_hits")]
        db.close()
        assert buckets and not any("203.0.113" in b for b in buckets)


def test_sign_ups_are_limited_per_address(tmp_path: Path) -> None:
    with running_relay() as relay:
        web = make_web(tmp_path, relay, signup_limit_per_address_per_day=2)
        for i in range(2):
            assert sign_up(web.client, "target@example.com", ip=f"192.0.2.{i}").status_code == 200
        refused = sign_up(web.client, "Target@EXAMPLE.com", ip="192.0.2.9")
        assert refused.status_code == 429
        assert "already sent several emails to this address" in refused.get_data(as_text=True)
        assert len(web.mail()) == 2
        web.clock.now = NOW + timedelta(days=1, minutes=1)
        assert sign_up(web.client, "target@example.com", ip="192.0.2.9").status_code == 200


# -- bad input -----------------------------------------------------------------------------------


def test_invalid_fields_get_a_message_next_to_the_field(web: Web) -> None:
    response = sign_up(
        web.client, "not-an-address", ("courts", "no-such-category"), frequency="hourly"
    )
    assert response.status_code == 400
    assert errors_on(response) == ["email", "categories", "frequency"]
    text = response.get_data(as_text=True)
    assert 'aria-describedby="email-error"' in text and 'aria-invalid="true"' in text
    assert "We have no category called &#39;no-such-category&#39;" in text
    assert 'value="not-an-address"' in text  # what they typed is kept
    none_chosen = sign_up(web.client, "ok@example.com", ())
    assert errors_on(none_chosen) == ["categories"]
    assert "Choose at least one category." in none_chosen.get_data(as_text=True)
    assert web.mail() == []


def test_names_with_web_addresses_get_a_message_next_to_the_field(web: Web) -> None:
    for name in ("Claim your prize at www.prize.example", "https://evil.example", "evil.example"):
        response = sign_up(web.client, "reader@example.com", name=name)
        assert response.status_code == 400, name
        assert errors_on(response) == ["name"]
        assert "Your name cannot contain a web address or link" in response.get_data(as_text=True)
    assert web.mail() == []
    assert web.subscriber("reader@example.com") is None


def test_oversized_fields_and_bodies(web: Web) -> None:
    long_email = "a" * 5000 + "@example.com"
    response = sign_up(web.client, long_email, name="N" * 300)
    assert response.status_code == 400
    assert errors_on(response) == ["email", "name"]
    text = response.get_data(as_text=True)
    assert "at most 254 characters" in text and "at most 80 characters" in text
    assert long_email not in text  # not echoed back in full
    huge = web.client.post("/subscribe", data={"email": "x@example.com", "name": "N" * 100_000})
    assert huge.status_code == 413
    assert "Traceback" not in huge.get_data(as_text=True)
    assert "<h1>That was too much</h1>" in huge.get_data(as_text=True)


def test_a_body_that_is_not_utf8_gets_a_clear_400(web: Web) -> None:
    token = csrf_of(web.client.get("/"))
    body = f"csrf_token={token}&email=caf%E9@example.com&categories=courts".encode()
    response = web.client.post(
        "/subscribe", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "other than UTF-8" in response.get_data(as_text=True)
    raw = web.client.post(
        "/subscribe",
        data=b"email=caf\xe9@example.com&name=\xff\xfe",
        content_type="application/x-www-form-urlencoded",
    )
    assert raw.status_code == 400
    multipart = web.client.post(
        "/subscribe",
        data=b'--X\r\nContent-Disposition: form-data; name="email"\r\n\r\n'
        b"caf\xe9@example.com\r\n--X--\r\n",
        content_type="multipart/form-data; boundary=X",
    )
    assert multipart.status_code == 400
    assert "other than UTF-8" in multipart.get_data(as_text=True)
    assert web.subscriber("café@example.com") is None


def test_unknown_pages_and_methods_get_pages_not_tracebacks(web: Web) -> None:
    assert web.client.get("/nope").status_code == 404
    assert web.client.delete("/subscribe").status_code == 405
    assert web.client.get("/archive/99").status_code == 404
    for response in (web.client.get("/nope"), web.client.delete("/subscribe")):
        assert "Traceback" not in response.get_data(as_text=True)
        assert response.headers["Content-Security-Policy"]
    # A 405 says what the page takes (RFC 9110 15.5.6).
    assert web.client.delete("/subscribe").headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert web.client.put("/archive").headers["Allow"] == "GET, HEAD, OPTIONS"
    assert web.client.put("/healthz").headers["Allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize(
    "path",
    [
        "/archive/9223372036854775808",  # one past SQLite's largest integer
        "/archive/9223372036854775807",
        "/archive/99999999999999999999999999999",
        "/archive/0",
        "/archive/-1",
        "/archive/1.5",
        "/archive/%00",
        "/c/" + "9" * 400,
        "/p/zzzzzzzzzzzzz.AAAAAAAAAAAAAAAAAAAAAA",  # the largest id a token can spell
        "/u/" + "x" * 5000,
    ],
)
def test_every_id_in_a_url_is_checked_404_never_500(web: Web, path: str) -> None:
    response = web.client.get(path)
    assert response.status_code == 404, path
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_signed_token_beyond_sqlites_integers_is_not_valid() -> None:
    from digest.tokens import IdSigner, TokenError

    signer = IdSigner(SECRET, "preferences")
    token = signer.sign(2**63)
    with pytest.raises(TokenError):
        signer.read(token)
    assert signer.read(signer.sign(2**63 - 1)) == 2**63 - 1


# -- preferences ---------------------------------------------------------------------------------


def test_preferences_show_only_this_reader_and_save_changes(web: Web) -> None:
    subscriber_id = active_subscriber(web, "me@example.com", name="Me")
    active_subscriber(web, "other@example.com", name="Someone Else")
    path = f"/p/{make_preferences_token(SECRET, subscriber_id)}"
    page = web.client.get(path)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "me@example.com" in text and "other@example.com" not in text
    assert "Someone Else" not in text
    assert re.search(r'value="courts"\s+checked', text)
    assert not re.search(r'value="daily"[^>]*checked', text)

    saved = web.client.post(
        path,
        data={
            "csrf_token": csrf_of(page),
            "action": "save",
            "name": "New Name",
            "categories": ["opioid-drugs", "consumer-safety"],
            "frequency": "daily",
        },
    )
    assert saved.status_code == 303
    assert saved.headers["Location"] == f"{path}?saved=1"
    subscriber = web.subscriber("me@example.com")
    assert (subscriber.name, subscriber.frequency, subscriber.categories) == (
        "New Name",
        "daily",
        ("Opioid Drugs", "Consumer Safety"),
    )
    assert ("updated", "web", "preferences") in events(web, subscriber_id)
    assert "Your changes are saved" in web.client.get(saved.headers["Location"]).get_data(
        as_text=True
    )

    empty = web.client.post(
        path, data={"csrf_token": csrf_of(page), "action": "save", "frequency": "weekly"}
    )
    assert empty.status_code == 400
    assert errors_on(empty) == ["categories"]

    gone = web.client.post(path, data={"csrf_token": csrf_of(page), "action": "unsubscribe"})
    assert gone.status_code == 200
    assert web.subscriber("me@example.com").status == "unsubscribed"
    again = web.client.get(path).get_data(as_text=True)
    assert "You are unsubscribed" in again and "Subscribe again" in again


# -- archive -------------------------------------------------------------------------------------


def test_archive_lists_sent_editions_without_personal_data(web: Web) -> None:
    db = web.db()
    add_articles(
        db,
        [
            article("1", ("Courts",), NOW - timedelta(days=1), title="Court rules on recall"),
            article(
                "2",
                ("Consumer Safety", "Courts"),
                NOW - timedelta(days=2),
                title="Safety <b>recall</b> widened",
            ),
            article("3", ("Opioid Drugs",), NOW - timedelta(days=1), title="Never sent"),
        ],
        NOW - timedelta(days=1),
    )
    first = subscribe(db, "secret.reader@example.com", ("Courts",), name="Private Person")
    second = subscribe(db, "another@example.com", ("Consumer Safety", "Courts"))
    edition = editions_store.create_edition(
        db,
        frequency="weekly",
        period="2026-W48",
        starts_at=NOW - timedelta(days=7),
        ends_at=NOW,
        now=NOW,
    )
    editions_store.mark_delivery(db, edition.id, first, "sent", NOW, article_ids=("a-1", "a-2"))
    editions_store.mark_delivery(db, edition.id, second, "sent", NOW, article_ids=("a-2", "a-1"))
    unsent = editions_store.create_edition(
        db,
        frequency="daily",
        period="2026-11-28",
        starts_at=NOW - timedelta(days=1),
        ends_at=NOW,
        now=NOW,
    )
    db.close()

    listing = web.client.get("/archive")
    assert listing.status_code == 200
    assert f'href="/archive/{edition.id}"' in listing.get_data(as_text=True)
    assert f'href="/archive/{unsent.id}"' not in listing.get_data(as_text=True)

    page = web.client.get(f"/archive/{edition.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Court rules on recall" in text
    assert "Safety &lt;b&gt;recall&lt;/b&gt; widened" in text
    assert "Never sent" not in text
    # Grouped by category, in the site's order: article 2 is under Consumer Safety (its
    # first category that a reader got it under), article 1 under Courts.
    assert (
        text.index('id="consumer-safety"')
        < text.index("Safety &lt;b&gt;")
        < text.index('id="courts"')
        < text.index("Court rules on recall")
    )
    for personal in ("secret.reader", "another@example.com", "Private Person", "/u/", "/p/"):
        assert personal not in text
        assert personal not in listing.get_data(as_text=True)
    assert web.client.get(f"/archive/{unsent.id}").status_code == 404


# -- headers and proxies -------------------------------------------------------------------------


def test_security_headers_on_every_page(web: Web) -> None:
    subscriber_id = active_subscriber(web, "reader@example.com")
    for path in (
        "/",
        "/archive",
        f"/u/{make_unsubscribe_token(SECRET, subscriber_id)}",
        f"/p/{make_preferences_token(SECRET, subscriber_id)}",
        "/nope",
    ):
        headers = web.client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
        # Only same-origin script files (timezone.js): never inline, never another site.
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
    css = web.client.get("/static/site.css")
    assert css.mimetype == "text/css" and "--accent: #1a4d8f;" in css.get_data(as_text=True)


def confirm_from(web: Web, email: str, forwarded: str) -> str:
    sign_up(web.client, email)
    path = link_in(web.mail()[-1], "/c/")
    page = web.client.get(path)
    web.client.post(
        path,
        data={"csrf_token": csrf_of(page)},
        headers={"X-Forwarded-For": forwarded},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    db = web.db()
    try:
        return web_store.consent_ip(db, web.subscriber(email).id)
    finally:
        db.close()


def test_x_forwarded_for_is_trusted_only_when_configured(tmp_path: Path) -> None:
    with running_relay() as relay:
        (tmp_path / "direct").mkdir()
        (tmp_path / "proxied").mkdir()
        direct = make_web(tmp_path / "direct", relay)
        assert confirm_from(direct, "one@example.com", "198.51.100.1") == "10.0.0.2"
        proxied = make_web(tmp_path / "proxied", relay, trust_proxy=True)
        schemes: list[str] = []

        @proxied.app.before_request
        def _scheme() -> None:
            schemes.append(flask.request.scheme)

        assert confirm_from(proxied, "two@example.com", "198.51.100.1") == "198.51.100.1"
        # X-Forwarded-Host and -Prefix are a client's to send: never honoured, even with
        # trust_proxy (the observed attack redirected to //evil.example/).
        hostile = {
            "X-Forwarded-Prefix": "//evil.example",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
        }
        for web in (direct, proxied):
            moved = web.client.get("/subscribe", headers=hostile)
            assert moved.status_code == 302
            assert moved.headers["Location"] == "/"
            page = web.client.get("/", headers=hostile).get_data(as_text=True)
            assert 'action="/subscribe"' in page and 'href="/static/site.css"' in page
            assert "evil.example" not in page
        # X-Forwarded-Proto is honoured behind the proxy, as the README's nginx sets it.
        schemes.clear()
        proxied.client.get("/healthz", headers=hostile)
        assert schemes == ["https"]


def test_serve_is_a_cli_command() -> None:
    from click.testing import CliRunner

    from digest.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "--port" in result.output and "reverse proxy" in result.output


def test_preferences_page_sets_the_readers_language(web: Web) -> None:
    subscriber_id = active_subscriber(web, "lang@example.com")
    path = f"/p/{make_preferences_token(SECRET, subscriber_id)}"
    page = web.client.get(path)
    text = page.get_data(as_text=True)
    assert '<select id="language" name="language">' in text
    assert '<option value="es" lang="es">español</option>' in text
    assert '<option value="ar" lang="ar">العربية</option>' in text
    form = {
        "csrf_token": csrf_of(page),
        "action": "save",
        "categories": ["courts"],
        "frequency": "weekly",
    }
    saved = web.client.post(path, data={**form, "language": "es"})
    assert saved.status_code == 303
    assert web.subscriber("lang@example.com").language == "es"
    again = web.client.get(path).get_data(as_text=True)
    assert '<option value="es" lang="es" selected>' in again
    # From now on their own pages speak their language (tests/test_web_language.py).
    assert '<html lang="es" dir="ltr">' in again
    bad = web.client.post(path, data={**form, "language": "xx"})
    assert bad.status_code == 400
    assert "Elija un idioma de la lista." in bad.get_data(as_text=True)
    assert web.subscriber("lang@example.com").language == "es"
    web.client.post(path, data={**form, "language": ""})
    assert web.subscriber("lang@example.com").language == ""
