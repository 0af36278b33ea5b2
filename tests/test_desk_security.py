"""The desk's safety, through Flask's test client against a real SQLite file: no page
without a login, forged and expired sessions refused, CSRF on every form, logins limited,
hostile titles and names shown as text, no password hash anywhere."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from digest.app import App
from digest.config import Settings, SiteSettings
from digest.web.app import create_app
from tests.builders import NOW, add_articles, article, make_db, subscribe

PASSWORD = "correct horse battery"
HOSTILE = "<script>alert('x')</script>Title"

# Every desk URL (GET and POST) that needs a session.
PROTECTED = [
    ("GET", "/admin/"),
    ("GET", "/admin/editions/1"),
    ("GET", "/admin/editions/1/preview?categories=opioid-drugs"),
    ("GET", "/admin/readers?q=a"),
    ("GET", "/admin/readers/ana@example.com"),
    ("GET", "/admin/articles"),
    ("POST", "/admin/editions/prepare"),
    ("POST", "/admin/logout"),
    ("POST", "/admin/articles/import"),
    ("POST", "/admin/readers/ana@example.com/unsubscribe"),
    *(
        ("POST", f"/admin/editions/1/{action}")
        for action in (
            "pin",
            "unpin",
            "up",
            "down",
            "exclude",
            "include",
            "intro",
            "subject",
            "approve",
            "cancel",
            "send",
            "test",
        )
    ),
]


@pytest.fixture(autouse=True)
def frozen() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    path = tmp_path / "site.db"
    db = make_db(path)
    add_articles(
        db,
        [article("o1", ("Opioid Drugs",), NOW - timedelta(days=1), HOSTILE)],
        imported=NOW - timedelta(hours=1),
    )
    subscribe(db, "ana@example.com", ("Opioid Drugs",), name="<b onmouseover=x>Ana</b>")
    db.close()
    conf = dataclasses.replace(
        Settings(),
        db_path=str(path),
        secret_key="security-test",
        site=SiteSettings(url="https://news.example.com"),
    )
    core = App.open(conf, clock=lambda: NOW)
    for address in ("eve@example.com", "mal@example.com"):
        token = core.add_editor(address).link.rsplit("/", 1)[1]
        core.set_editor_password(token, PASSWORD)
    core.prepare_edition("weekly", NOW, editor="test")
    core.close()
    return conf


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings, clock=lambda: NOW)


def token_in(html: str, action: str) -> str:
    match = re.search(
        rf'action="{re.escape(action)}"[^>]*>\s*<input type="hidden" name="csrf_token" '
        r'value="([^"]+)"',
        html,
    )
    assert match, f"no form posting to {action}"
    return match[1]


def log_in(client: FlaskClient, email: str = "eve@example.com") -> None:
    page = client.get("/admin/login").text
    response = client.post(
        "/admin/login",
        data={
            "csrf_token": token_in(page, "/admin/login"),
            "email": email,
            "password": PASSWORD,
        },
        base_url="https://localhost",
    )
    assert response.status_code == 303, response.text


def edition_status(settings: Settings) -> str:
    core = App.open(settings)
    try:
        return str(core.show_edition(1).edition.status)
    finally:
        core.close()


@pytest.mark.parametrize(("method", "url"), PROTECTED)
def test_no_page_without_a_session(app: Flask, method: str, url: str) -> None:
    client = app.test_client()
    response = client.open(url, method=method)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")


def test_forged_and_expired_sessions_are_refused(
    app: Flask, frozen: time_machine.Traveller
) -> None:
    client = app.test_client()
    log_in(client)
    assert client.get("/admin/", base_url="https://localhost").status_code == 200
    cookie = client.get_cookie("digest_desk", path="/admin")
    assert cookie is not None and cookie.http_only and cookie.secure
    assert cookie.same_site == "Lax"
    # Forged: another editor's id with a made-up signature.
    forged = app.test_client()
    forged.set_cookie("digest_desk", "WzIsMTc5NjAwNTc5Ml0.awzfoA.forgedsignature", path="/admin")
    assert forged.get("/admin/").status_code == 302
    # Expired: 12 hours later the same cookie no longer works.
    frozen.shift(timedelta(hours=12, seconds=1))
    assert client.get("/admin/", base_url="https://localhost").status_code == 302


def test_forms_without_a_valid_csrf_token_change_nothing(app: Flask, settings: Settings) -> None:
    client = app.test_client()
    log_in(client)
    https = "https://localhost"
    missing = client.post("/admin/editions/1/approve", base_url=https)
    assert missing.status_code == 400 and "This form has expired" in missing.text
    # A token made for another form, and one made for another editor, are refused too.
    page = client.get("/admin/editions/1", base_url=https).text
    other_form = token_in(page, "/admin/editions/1/cancel")
    wrong = client.post(
        "/admin/editions/1/approve", data={"csrf_token": other_form}, base_url=https
    )
    assert wrong.status_code == 400
    mal = app.test_client()
    log_in(mal, "mal@example.com")
    stolen = mal.post(
        "/admin/editions/1/approve",
        data={"csrf_token": token_in(page, "/admin/editions/1/approve")},
        base_url=https,
    )
    assert stolen.status_code == 400
    assert edition_status(settings) == "draft"
    approved = client.post(
        "/admin/editions/1/approve",
        data={"csrf_token": token_in(page, "/admin/editions/1/approve")},
        base_url=https,
    )
    assert approved.status_code == 303 and edition_status(settings) == "approved"


def test_hostile_titles_and_names_are_text_and_no_hash_is_shown(app: Flask) -> None:
    client = app.test_client()
    log_in(client)
    https = "https://localhost"
    pages = [
        client.get(url, base_url=https).text
        for url in (
            "/admin/",
            "/admin/editions/1",
            "/admin/articles",
            "/admin/readers?q=ana",
            "/admin/readers/ana@example.com",
        )
    ]
    for html in pages:
        assert "<script>alert" not in html and "<b onmouseover" not in html
        assert "$argon2" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;Title" in pages[1]
    assert "&lt;b onmouseover=x&gt;Ana&lt;/b&gt;" in pages[4]
    desk = client.get("/admin/editions/1", base_url=https)
    policy = desk.headers["Content-Security-Policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy
    preview = client.get("/admin/editions/1/preview?categories=opioid-drugs", base_url=https)
    assert "sandbox" in preview.headers["Content-Security-Policy"]
    assert "&lt;script&gt;" in preview.text and "<script>" not in preview.text


def test_logins_are_limited_and_locked(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/admin/login").text
    token = token_in(page, "/admin/login")

    def attempt(password: str) -> int:
        data = {"csrf_token": token, "email": "eve@example.com", "password": password}
        return client.post("/admin/login", data=data).status_code

    assert [attempt("wrong password") for _ in range(5)] == [401] * 5
    assert attempt(PASSWORD) == 401  # locked for 15 minutes, even with the right one
    assert [attempt("wrong password") for _ in range(4)] == [401] * 4
    assert attempt(PASSWORD) == 429  # ten attempts from one address: slow down
    missing = client.post("/admin/login", data={"email": "eve@example.com", "password": "x"})
    assert missing.status_code == 400


def test_next_never_leaves_the_desk(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/admin/login?next=https://evil.example/").text
    assert 'name="next" value=""' in page
    response = client.post(
        "/admin/login",
        data={
            "csrf_token": token_in(page, "/admin/login"),
            "email": "eve@example.com",
            "password": PASSWORD,
            "next": "//evil.example/admin/",
        },
    )
    assert response.headers["Location"] == "/admin/"


def test_the_set_password_page_works_once(app: Flask, settings: Settings) -> None:
    core = App.open(settings, clock=lambda: NOW)
    link = core.add_editor("new@example.com", "New").link
    core.close()
    path = link.removeprefix("https://news.example.com")
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200 and "For new@example.com." in page.text
    token = token_in(page.text, path)
    short = client.post(path, data={"csrf_token": token, "password": "short", "again": "short"})
    assert short.status_code == 400 and "at least 12 characters" in short.text
    differ = client.post(
        path, data={"csrf_token": token, "password": PASSWORD, "again": PASSWORD + "!"}
    )
    assert differ.status_code == 400 and "The two passwords differ." in differ.text
    done = client.post(path, data={"csrf_token": token, "password": PASSWORD, "again": PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/admin/login"
    again = client.get(path)
    assert again.status_code == 400 and "This link does not work" in again.text
    forged = client.get(path[:-3] + "abc")
    assert forged.status_code == 400
    log_in(client, "new@example.com")
