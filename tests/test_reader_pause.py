"""A reader's pause and timezone: the scheduler (injected clock, real relay, real SQLite file)
skips a paused reader with the reason and sends to them again once the pause is over; and
the pages' timezone and pause fields over Flask's test client."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.app import App, Choices
from digest.config import Settings
from digest.errors import ConfigError
from digest.models import Frequency
from digest.schedule import Runner
from digest.store import editions as store
from digest.store import open_db
from digest.tokens import make_preferences_token
from digest.web import create_app, mailer_of
from tests.builders import NOW, add_articles, article, make_db, settings_for
from tests.relay import Received, Relay, running_relay
from tests.test_schedule import Clock, add_readers, at, configure, counts, setup_db

SECRET = "test-secret-key"


def deliveries(path: Path, period: str) -> dict[str, tuple[str, str]]:
    db = open_db(path)
    try:
        edition = store.find_edition(db, "weekly", period)
        assert edition is not None
        return {d.email: (d.status, d.reply) for d in store.deliveries_of(db, edition.id)}
    finally:
        db.close()


def choices(core: App) -> Choices:
    [category] = [c for c in core.list_categories() if c.name == "Opioid Drugs"]
    return Choices("", (category.id,), (category.name,), Frequency.WEEKLY)


def test_a_paused_reader_is_skipped_then_resumes_by_itself(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.db"
    setup_db(path, at("2026-11-29T12:00:00+00:00"))
    add_readers(path, {"ana@example.com": "UTC", "bo@example.com": "UTC"})
    with running_relay() as relay:
        clock = Clock(at("2026-11-29T18:00:00+00:00"))  # Sunday: Bo asks for two weeks off
        settings = configure(path, relay, timezone="UTC")
        core = App.open(settings, clock=clock)
        bo = core.find_subscriber("bo@example.com").id
        assert core.save_reader_choices(bo, choices(core), pause_weeks=2)
        assert core.reader_paused_until(bo) == at("2026-12-13T18:00:00+00:00")
        runner = Runner(settings, clock=clock)

        for week, monday in enumerate(("2026-11-30", "2026-12-07", "2026-12-14"), 49):
            published = at(f"{monday}T06:00:00+00:00")
            db = open_db(path)
            add_articles(db, [article(f"w{week}", ("Opioid Drugs",), published)], published)
            db.close()
            clock.now = at(f"{monday}T08:00:00+00:00")
            run = runner.send_due("weekly")
            assert run.statuses == ["complete"], run

        first = deliveries(path, "2026-W49")
        assert first["ana@example.com"][0] == "sent"
        assert first["bo@example.com"] == ("skipped", "paused until 2026-12-13")
        assert deliveries(path, "2026-W50")["bo@example.com"] == (
            "skipped",
            "paused until 2026-12-13",
        )
        assert deliveries(path, "2026-W51")["bo@example.com"][0] == "sent"
        assert counts(relay) == {"ana@example.com": 3, "bo@example.com": 1}
        # Paused, never unsubscribed; the pause is over and its history says so.
        assert core.find_subscriber("bo@example.com").status == "active"
        assert core.reader_paused_until(bo) is None
        kinds = [(e.kind, e.detail) for e in core.reader_history("bo@example.com").events]
        assert ("paused", "until 2026-12-13") in kinds


def test_resume_now_ends_a_pause(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.db"
    setup_db(path, NOW)
    add_readers(path, {"bo@example.com": "UTC"})
    core = App.open(settings_for(path), clock=lambda: NOW)
    bo = core.find_subscriber("bo@example.com").id
    core.save_reader_choices(bo, choices(core), pause_weeks=8)
    assert core.reader_paused_until(bo) == NOW + timedelta(weeks=8)
    assert core.save_reader_choices(bo, choices(core), pause_weeks=0)
    assert core.reader_paused_until(bo) is None
    assert not core.save_reader_choices(bo, choices(core), pause_weeks=None)  # nothing changed


# -- the pages -------------------------------------------------------------------------------


@dataclasses.dataclass
class Site:
    client: Any
    core: App
    settings: Settings
    relay: Relay
    app: Any


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    db_path = tmp_path / "web.db"
    make_db(db_path).close()
    with running_relay() as relay:
        settings = settings_for(db_path, relay.url)
        app = create_app(settings, clock=lambda: NOW)
        yield Site(app.test_client(), App.open(settings, clock=lambda: NOW), settings, relay, app)


def csrf_of(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_the_preferences_page_saves_timezone_and_pause(site: Site) -> None:
    reader = site.core.add_subscriber("ana@example.com", ["Courts"], timezone="UTC").subscriber
    path = f"/p/{make_preferences_token(SECRET, reader.id)}"
    page = site.client.get(path).get_data(as_text=True)
    assert '<select id="timezone" name="timezone"' in page and "data-guess-timezone" in page
    assert '<option value="UTC" selected>' in page
    assert 'src="/static/timezone.js"' in page
    form = {
        "csrf_token": csrf_of(page),
        "action": "save",
        "categories": "courts",
        "frequency": "weekly",
        "timezone": "America/Argentina/Buenos_Aires",
        "pause": "4",
    }
    assert site.client.post(path, data=form).status_code == 303
    reader = site.core.reader_by_id(reader.id)
    assert reader.timezone == "America/Argentina/Buenos_Aires"
    assert site.core.reader_paused_until(reader.id) == NOW + timedelta(weeks=4)
    page = site.client.get(path).get_data(as_text=True)
    assert "Paused: your next digest comes after 26 Dec 2026." in page
    assert '<option value="America/Argentina/Buenos_Aires" selected>' in page
    assert "data-guess-timezone" not in page  # a chosen zone is never overwritten
    assert "Resume now" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "Choose your timezone from the list."),
        ("pause", "3", "Choose a break of 2, 4 or 8 weeks, or none."),
    ],
)
def test_bad_choices_are_shown_and_nothing_is_saved(
    site: Site, field: str, value: str, message: str
) -> None:
    reader = site.core.add_subscriber("ana@example.com", ["Courts"]).subscriber
    path = f"/p/{make_preferences_token(SECRET, reader.id)}"
    page = site.client.get(path).get_data(as_text=True)
    form = {
        "csrf_token": csrf_of(page),
        "action": "save",
        "categories": "opioid-drugs",
        "frequency": "daily",
        "timezone": "UTC",
        field: value,
    }
    response = site.client.post(path, data=form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    reader = site.core.reader_by_id(reader.id)
    assert (reader.categories, reader.frequency) == (("Courts",), "weekly")


def test_sign_up_stores_the_timezone_chosen(site: Site) -> None:
    page = site.client.get("/").get_data(as_text=True)
    assert "data-guess-timezone" in page
    form = {
        "csrf_token": csrf_of(page),
        "email": "new@example.com",
        "categories": "courts",
        "frequency": "weekly",
        "timezone": "Asia/Kathmandu",
    }
    assert site.client.post("/subscribe", data=form).status_code == 200
    # Kept with the sign-up request, applied when its owner confirms (like every choice).
    assert site.core.find_subscriber("new@example.com").timezone == "UTC"
    mailer_of(site.app).drain()
    confirm_link = _confirm_path(site.relay.wait_for_count(1)[0])
    page = site.client.get(confirm_link).get_data(as_text=True)
    assert site.client.post(confirm_link, data={"csrf_token": csrf_of(page)}).status_code == 200
    assert site.core.find_subscriber("new@example.com").timezone == "Asia/Kathmandu"
    # The publisher's own form (README) has no timezone field: UTC, as before.
    embedded = {"email": "embed@example.com", "categories": "courts"}
    assert site.client.post("/subscribe", data=embedded).status_code == 200
    assert site.core.find_subscriber("embed@example.com").timezone == "UTC"
    mailer_of(site.app).drain()


def test_the_timezone_script_is_a_same_origin_file(site: Site) -> None:
    response = site.client.get("/static/timezone.js")
    assert response.mimetype == "text/javascript"
    assert "Intl.DateTimeFormat().resolvedOptions().timeZone" in response.get_data(as_text=True)


# -- the welcome email -----------------------------------------------------------------------


def welcome_site(tmp_path: Path, relay: Relay, welcome: str) -> tuple[Any, App]:
    db_path = tmp_path / f"welcome-{welcome}.db"
    db = make_db(db_path)
    day = NOW - timedelta(days=1)
    add_articles(db, [article("k1", ("Courts",), day, title="Court widens recall")], day)
    db.close()
    settings = settings_for(db_path, relay.url)
    settings = dataclasses.replace(settings, web=dataclasses.replace(settings.web, welcome=welcome))
    return create_app(settings, clock=lambda: NOW), App.open(settings, clock=lambda: NOW)


def confirm_on_the_page(app: Any, relay: Relay, email: str) -> None:
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    form = {"csrf_token": csrf_of(page), "email": email, "categories": "courts"}
    assert client.post("/subscribe", data=form).status_code == 200
    mailer_of(app).drain()
    [confirm] = relay.wait_for_count(1)
    text = confirm.message.get_body(("plain",))
    assert text is not None
    link = next(w for w in text.get_content().split() if "/c/" in w)
    path = link[link.index("/c/") :]
    page = client.get(path).get_data(as_text=True)
    assert client.post(path, data={"csrf_token": csrf_of(page)}).status_code == 200
    mailer_of(app).drain()


@pytest.mark.parametrize(
    ("welcome", "subject", "says"),
    [
        ("latest", "Welcome! ", "Court widens recall"),
        ("short", "Welcome to ", "Thank you for confirming."),
        ("none", None, None),
    ],
)
def test_a_confirmed_reader_gets_the_welcome_chosen(
    tmp_path: Path, welcome: str, subject: str | None, says: str | None
) -> None:
    with running_relay() as relay:
        app, core = welcome_site(tmp_path, relay, welcome)
        confirm_on_the_page(app, relay, "new@example.com")
        assert core.find_subscriber("new@example.com").status == "active"
        received = list(relay.received)
    if subject is None:
        assert len(received) == 1  # the confirmation only
        return
    [_, mail] = received
    assert mail.recipients == ["new@example.com"]
    assert mail.message["Subject"].startswith(subject)
    text = mail.message.get_body(("plain",))
    assert text is not None and says is not None and says in text.get_content()
    if welcome == "latest":  # the digest itself, with its one-click unsubscribe
        assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_latest_with_nothing_new_is_the_short_note(tmp_path: Path) -> None:
    with running_relay() as relay:
        _, core = welcome_site(tmp_path, relay, "latest")
        reader = core.add_subscriber("ana@example.com", ["Opioid Drugs"]).subscriber
        message = core.welcome_message(reader.id)
    assert message is not None and message.subject == "Welcome to Legal Reader"


def test_an_unknown_welcome_setting_fails_at_start(tmp_path: Path) -> None:
    with running_relay() as relay, pytest.raises(ConfigError, match=r"web\.welcome: one of"):
        welcome_site(tmp_path, relay, "always")


def _confirm_path(mail: Received) -> str:
    text = mail.message.get_body(("plain",))
    assert text is not None
    found = re.search(r"/c/[A-Za-z0-9._-]+", text.get_content())
    assert found is not None
    return found.group(0)
