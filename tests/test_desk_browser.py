"""The editor's desk in a real browser: Debian's Chromium (headless, through Playwright)
against a real `digest serve` subprocess and a real SMTP relay on loopback. Log in, prepare,
pin, exclude, write an intro, preview at 390 and 1280 px, send a test copy, approve and send;
then check the messages the readers got. Screenshots of every page go to test-artifacts/."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from digest.app import App
from digest.config import Settings, SiteSettings
from tests.builders import add_articles, article, make_db, subscribe
from tests.relay import Received, Relay, free_port, running_relay
from tests.serving import chromium, digest_command, digest_env, digest_serve

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT = 30.0
PASSWORD = "correct horse battery"
EDITOR = "eve@example.com"


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as running:
        yield running


@pytest.fixture
def server(tmp_path: Path, relay: Relay) -> Iterator[tuple[str, Path]]:
    """`digest serve` as an operator runs it, over a database with articles, readers and
    one editor whose password is set."""
    db_path = tmp_path / "site.db"
    db = make_db(db_path)
    now = datetime.now(UTC).replace(microsecond=0)
    day = timedelta(days=1)
    add_articles(
        db,
        [
            article("o1", ("Opioid Drugs",), now - day, "<script>alert('title')</script>Newest"),
            article("o2", ("Opioid Drugs",), now - 2 * day, "The corrected story"),
            article("o3", ("Opioid Drugs",), now - 3 * day, "The story that matters"),
            article("c1", ("Courts",), now - 2 * day, "A court ruling"),
        ],
        imported=now - timedelta(hours=1),
    )
    subscribe(db, "ana@example.com", ("Opioid Drugs",), name="<img src=x onerror=alert(1)>")
    subscribe(db, "bo@example.com", ("Opioid Drugs", "Courts"))
    db.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "digest.toml"
    config.write_text(
        f'secret_key = "desk-test-secret"\n[site]\nurl = "{base}"\nname = "Legal Reader"\n'
        f'[smtp]\nurl = "{relay.url}"\ntimeout = 5.0\n[sending]\nconcurrency = 1\n'
        "[digest]\nmax_articles_per_category = 2\n",
        encoding="utf-8",
    )
    settings = dataclasses.replace(
        Settings(),
        db_path=str(db_path),
        secret_key="desk-test-secret",
        site=SiteSettings(url=base),
    )
    core = App.open(settings)
    link = core.add_editor(EDITOR, "Eve").link
    core.set_editor_password(link.rsplit("/", 1)[1], PASSWORD)
    core.close()

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


def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _html(received: Received) -> str:
    body = received.message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def _titles(received: Received) -> list[str]:
    """The article titles of the message, in order, from its HTML part."""
    return re.findall(r"<h3[^>]*><a [^>]*>([^<]*)</a></h3>", _html(received))


def test_editor_steers_previews_tests_approves_and_sends(
    server: tuple[str, Path], relay: Relay, browser: Browser
) -> None:
    base, _ = server
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":  # a CSP violation, a script that ran, a broken page
            problems.append(message.text)

    context: Any = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", on_console)
    page.on("dialog", lambda d: problems.append(f"dialog: {d.message}"))

    # Without a session, the desk sends the editor to the login page.
    page.goto(f"{base}/admin/")
    expect(page.get_by_role("heading", name="Sign in to the desk")).to_be_visible()
    _screenshot(page, "desk-login.png")
    page.get_by_label("Email address").fill(EDITOR)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Not signed in: wrong address or password.")
    # The refused login answers 401, which Chromium reports; nothing else may.
    assert [p for p in problems if "401" not in p] == []
    problems.clear()
    page.get_by_label("Email address").fill(EDITOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Editions", exact=True)).to_be_visible()

    # Prepare the weekly draft.
    page.get_by_role("button", name="Prepare a draft").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Edition #1: weekly")
    opioids = page.locator(".category", has=page.get_by_role("heading", name=re.compile("Opioid")))
    carried = opioids.locator("ol.articles > li .title")
    # The title with a script in it is text, never markup.
    expect(carried).to_have_text(["<script>alert('title')</script>Newest", "The corrected story"])

    # Pin the older story (beyond the newest two) and exclude the corrected one.
    page.locator("details summary").first.click()
    page.get_by_role("button", name="Pin a-o3").click()
    expect(page.locator("#done")).to_have_text("Pinned a-o3.")
    page.locator("details summary").first.click()  # a-o2 is now beyond the newest two
    page.get_by_role("button", name="Exclude a-o2").click()
    expect(page.locator("#done")).to_have_text("Excluded a-o2.")
    expect(carried).to_have_text(
        ["The story that matters", "<script>alert('title')</script>Newest"]
    )

    # An intro, with a script that must stay text.
    page.get_by_role("textbox", name="Introduction").fill(
        "Two stories **matter** this week.\n\n<script>alert('intro')</script>"
    )
    page.get_by_role("button", name="Save the introduction").click()
    expect(page.locator("#done")).to_have_text("Intro saved.")
    _screenshot(page, "desk-edition-1280.png")

    # Preview the real email for a new reader of Opioid Drugs: phone and desktop frames.
    page.get_by_label("Opioid Drugs").check()
    page.get_by_role("button", name="Show the preview").click()
    phone = page.frame_locator("iframe.phone")
    expect(phone.get_by_role("heading", name="The story that matters")).to_be_visible()
    expect(phone.get_by_role("heading", name="The corrected story")).to_have_count(0)
    expect(phone.get_by_text("<script>alert('intro')</script>")).to_be_visible()
    expect(phone.locator("strong", has_text="matter")).to_be_visible()
    desktop = page.frame_locator("iframe.desktop")
    expect(desktop.get_by_role("heading", name="The story that matters")).to_be_visible()
    _screenshot(page, "desk-preview-1280.png")
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the edition page scrolls sideways on a phone"
    _screenshot(page, "desk-preview-390.png")
    page.set_viewport_size({"width": 1280, "height": 900})

    # A test copy to the signed-in editor's own address.
    page.get_by_role("button", name=f"Send a test copy to {EDITOR}").click()
    expect(page.locator("#done")).to_have_text(f"Test copy sent to {EDITOR}.")
    test_copy = relay.wait_for_count(1, TIMEOUT)[0]
    assert test_copy.recipients == [EDITOR]
    assert str(test_copy.message["Subject"]).startswith("[TEST] ")

    # Approve, then send now.
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator("#done")).to_have_text("Approved.")
    page.get_by_role("button", name="Send now").click()
    expect(page.locator("#done")).to_contain_text("Sent: 2 sent, 0 failed (complete).")
    _screenshot(page, "desk-sent-1280.png")
    received = relay.wait_for_count(3, TIMEOUT)
    readers = {m.recipients[0]: m for m in received[1:]}
    assert sorted(readers) == ["ana@example.com", "bo@example.com"]
    for message in readers.values():
        titles = _titles(message)
        assert titles[0] == "The story that matters"  # the pin leads its category
        assert "The corrected story" not in titles  # the exclusion is absent
        html = _html(message)
        assert "<strong>matter</strong>" in html and "<script>" not in html
        text = message.message.get_body(("plain",))
        assert text is not None and "The corrected story" not in text.get_content()

    # The editions list, the readers and the articles pages.
    page.goto(f"{base}/admin/")
    expect(page.get_by_role("cell", name="#1 weekly", exact=False)).to_be_visible()
    _screenshot(page, "desk-editions-1280.png")
    page.goto(f"{base}/admin/readers")
    page.get_by_label("Address starts with").fill("an")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="ana@example.com").click()
    expect(page.get_by_role("heading", name="ana@example.com")).to_be_visible()
    expect(page.locator("dd").first).to_have_text("<img src=x onerror=alert(1)>")
    _screenshot(page, "desk-reader-1280.png")
    page.get_by_label("Why").fill("asked by phone")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("status")).to_have_text("Unsubscribed.")
    page.goto(f"{base}/admin/articles")
    expect(page.get_by_role("link", name="The story that matters")).to_be_visible()
    _screenshot(page, "desk-articles-1280.png")
    page.set_viewport_size({"width": 390, "height": 844})
    _screenshot(page, "desk-articles-390.png")
    # Every page works at 390 px: nothing scrolls sideways (wide tables scroll in place).
    for name, path in (
        ("editions", "/admin/"),
        ("sent", "/admin/editions/1"),
        ("readers", "/admin/readers?q=a"),
    ):
        page.goto(f"{base}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width} px)"
        _screenshot(page, f"desk-{name}-390.png")

    # Signing out ends the session.
    page.get_by_role("button", name=re.compile("Sign out")).click()
    page.goto(f"{base}/admin/readers")
    expect(page.get_by_role("heading", name="Sign in to the desk")).to_be_visible()
    assert problems == []
    context.close()
