"""A reader's whole journey in a real browser: Debian's Chromium (headless, driven by
Playwright) against a real `digest serve` subprocess and a real SMTP relay on loopback.
Sign up, confirm from the emailed link, change preferences, unsubscribe from the page the
email footer links to, checking the database after each step. Screenshots at phone and
desktop widths go to test-artifacts/ (gitignored)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from digest.models import Subscriber
from digest.store import open_db
from digest.store import subscribers as subscribers_store
from digest.tokens import make_preferences_token
from tests.builders import make_db
from tests.relay import Received, Relay, free_port, running_relay
from tests.serving import chromium, digest_command, digest_env, digest_serve

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# A safety net for every wait: reaching it fails the test, it never makes one pass.
TIMEOUT = 30.0


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as running:
        yield running


@pytest.fixture
def server(tmp_path: Path, relay: Relay) -> Iterator[tuple[str, Path]]:
    """`digest serve` as a subprocess, exactly as an operator runs it."""
    db_path = tmp_path / "site.db"
    make_db(db_path).close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "digest.toml"
    config.write_text(
        f'secret_key = "browser-test-secret"\n[site]\nurl = "{base}"\nname = "Legal Reader"\n'
        f'[smtp]\nurl = "{relay.url}"\ntimeout = 5.0\n',
        encoding="utf-8",
    )
    with digest_serve(
        digest_command(config, db_path, "serve", "--host", "127.0.0.1", "--port", str(port)),
        digest_env(),
        base,
    ):
        yield base, db_path


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _mail(relay: Relay, count: int) -> Received:
    """The count-th message the relay accepted (1-based), waiting for the mail thread."""
    return relay.wait_for_count(count, TIMEOUT)[count - 1]


def _link(received: Received, base: str, prefix: str) -> str:
    body = received.message.get_body(("plain",))
    assert body is not None
    match = re.search(rf"{re.escape(base)}{prefix}\S+", body.get_content())
    assert match, f"no {prefix} link in:\n{body.get_content()}"
    return match[0]


def _subscriber(db_path: Path, email: str) -> Subscriber:
    db = open_db(db_path)
    try:
        subscriber = subscribers_store.get_subscriber_by_email(db, email)
    finally:
        db.close()
    assert subscriber is not None
    return subscriber


def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_reader_journey_in_a_real_browser(
    server: tuple[str, Path], relay: Relay, browser: Browser
) -> None:
    base, db_path = server
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A Content-Security-Policy violation shows up here as an error.
        if message.type == "error":
            problems.append(message.text)

    context: Any = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.on("console", on_console)
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )

    # Phone width: the sign-up page, and a look at how it lays out.
    page.goto(f"{base}/")
    assert page.locator("html").get_attribute("lang") == "en"
    _screenshot(page, "web-signup-390.png")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the sign-up page scrolls sideways on a phone"

    # 1. Sign up for two categories.
    page.get_by_label("Email address").fill("reader@example.com")
    page.get_by_label("Your name").fill("Ann Reader")
    page.get_by_label("Opioid Drugs").check()
    page.get_by_label("Courts").check()
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    subscriber = _subscriber(db_path, "reader@example.com")
    assert subscriber.status == "pending"

    # 2. The confirmation email, and its link: a page with a button, then active.
    confirm = _link(_mail(relay, 1), base, "/c/")
    page.goto(confirm)
    assert _subscriber(db_path, "reader@example.com").status == "pending"
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    subscriber = _subscriber(db_path, "reader@example.com")
    assert (subscriber.status, subscriber.categories, subscriber.name) == (
        "active",
        ("Opioid Drugs", "Courts"),
        "Ann Reader",
    )
    # [web] welcome = "latest", with nothing published yet: the short welcome note.
    assert _mail(relay, 2).message["Subject"] == "Welcome to Legal Reader"

    # 3. Signing up again mails the preferences link instead; change the choices there.
    page.goto(f"{base}/")
    page.get_by_label("Email address").fill("reader@example.com")
    page.get_by_label("Consumer Safety").check()
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    welcome_back = _mail(relay, 3)
    assert welcome_back.message["Subject"] == "You are already subscribed to Legal Reader"
    assert _subscriber(db_path, "reader@example.com").categories == ("Opioid Drugs", "Courts")
    page.goto(_link(welcome_back, base, "/p/"))
    page.get_by_label("Opioid Drugs").uncheck()
    page.get_by_label("Consumer Safety").check()
    page.get_by_label("Daily").check()
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Your changes are saved").wait_for()
    subscriber = _subscriber(db_path, "reader@example.com")
    assert (subscriber.categories, subscriber.frequency) == (("Consumer Safety", "Courts"), "daily")

    # Desktop width: the preferences page and the sign-up page.
    page.set_viewport_size({"width": 1280, "height": 900})
    _screenshot(page, "web-preferences-1280.png")
    page.goto(f"{base}/")
    _screenshot(page, "web-signup-1280.png")

    # 4. The unsubscribe link from the email footer: the page asks, the button does it.
    page.goto(_link(welcome_back, base, "/u/"))
    page.get_by_role("heading", name="Unsubscribe").wait_for()
    assert _subscriber(db_path, "reader@example.com").status == "active"
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    assert _subscriber(db_path, "reader@example.com").status == "unsubscribed"

    assert problems == []
    context.close()


# -- body limits in the real server (#12) ---------------------------------------------------


def _exchange(base: str, request: bytes, body_chunks: tuple[bytes, ...] = ()) -> bytes:
    """Send ``request`` (and then each of ``body_chunks``, as long as the server reads) to
    the server at ``base`` over a raw socket; everything it answers until it closes."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        for chunk in body_chunks:
            try:
                sock.sendall(chunk)
            except OSError:  # the server answered and closed: stop sending
                break
        answer = b""
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    return answer


def test_serve_refuses_a_declared_oversized_body_without_reading_it(
    server: tuple[str, Path],
) -> None:
    """Waitress' default would wait for (and buffer) up to 1 GB first: here the 413 comes as
    soon as the headers say 2 MB, though not one byte of the body was sent."""
    base, _ = server
    answer = _exchange(
        base,
        b"POST /subscribe HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 2000000\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def test_serve_stops_reading_a_chunked_body_past_one_megabyte(server: tuple[str, Path]) -> None:
    base, db_path = server
    size = 1024 * 1024
    chunk = b"email=a%40example.com&name=" + b"N" * (size - 27)
    answer = _exchange(
        base,
        b"POST /subscribe HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        # One chunk of exactly 1 MB, never terminated: without the limit the server would
        # wait for the rest.
        (f"{len(chunk):x}\r\n".encode("ascii"), chunk),
    )
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert _subscriber_or_none(db_path, "a@example.com") is None


def _subscriber_or_none(db_path: Path, email: str) -> Subscriber | None:
    db = open_db(db_path)
    try:
        return subscribers_store.get_subscriber_by_email(db, email)
    finally:
        db.close()


def test_timezone_and_pause_in_a_real_browser(
    server: tuple[str, Path], relay: Relay, browser: Browser
) -> None:
    """The sign-up form pre-selects the browser's timezone (timezone.js, under the pages'
    CSP); the preferences page takes another zone and a four-week pause."""
    base, db_path = server
    problems: list[str] = []
    context: Any = browser.new_context(timezone_id="America/Sao_Paulo")
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    page.goto(f"{base}/")
    assert page.get_by_label("Your timezone").input_value() == "America/Sao_Paulo"
    page.get_by_label("Email address").fill("tz@example.com")
    page.get_by_label("Courts").check()
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    subscriber = _subscriber(db_path, "tz@example.com")
    # The zone waits in the sign-up request until the inbox's owner confirms.
    assert (subscriber.status, subscriber.timezone) == ("pending", "UTC")

    page.goto(_link(_mail(relay, 1), base, "/c/"))
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    subscriber = _subscriber(db_path, "tz@example.com")
    assert (subscriber.status, subscriber.timezone) == ("active", "America/Sao_Paulo")

    token = make_preferences_token("browser-test-secret", subscriber.id)
    page.goto(f"{base}/p/{token}")
    # A zone the reader has chosen is shown as it is, not replaced by the browser's.
    assert page.get_by_label("Your timezone").input_value() == "America/Sao_Paulo"
    page.get_by_label("Your timezone").select_option("Europe/Lisbon")
    page.get_by_label("Pause for 4 weeks").check()
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Your changes are saved").wait_for()
    page.get_by_text("Paused: your next digest comes after").wait_for()
    assert page.get_by_label("Your timezone").input_value() == "Europe/Lisbon"
    subscriber = _subscriber(db_path, "tz@example.com")
    assert (subscriber.status, subscriber.timezone) == ("active", "Europe/Lisbon")
    db = open_db(db_path)
    try:
        [paused] = db.execute(
            "SELECT paused_until FROM subscribers WHERE id = ?", [subscriber.id]
        ).fetchone()
    finally:
        db.close()
    assert paused is not None
    _screenshot(page, "web-preferences-pause.png")
    assert problems == []
    context.close()
