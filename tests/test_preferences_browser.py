"""The preference page in a real browser (Playwright driving /usr/bin/chromium against
`digest serve` run as a subprocess, tests/test_web_browser.py's fixtures): a reader opens it
from their signed link, chooses timezone, weekly day, language and a pause, and saves; the
database holds each choice and the page then speaks Spanish. An Arabic reader's page is right
to left, and its layout mirrors (computed styles and positions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page

from digest.store import open_db
from digest.tokens import make_preferences_token
from tests.builders import subscribe
from tests.test_web_browser import (  # noqa: F401 (pytest fixtures)
    _screenshot,
    _subscriber,
    browser,
    relay,
    server,
)

SECRET = "browser-test-secret"


def _reader(db_path: Path, email: str, language: str = "") -> int:
    db = open_db(db_path)
    try:
        reader = subscribe(db, email, ("Courts",), timezone="UTC")
        db.execute("UPDATE subscribers SET language = ? WHERE id = ?", [language, reader])
        db.conn.commit()
        return reader
    finally:
        db.close()


def _paused_until(db_path: Path, reader: int) -> datetime:
    db = open_db(db_path)
    try:
        [value] = db.execute(
            "SELECT paused_until FROM subscribers WHERE id = ?", [reader]
        ).fetchone()
    finally:
        db.close()
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _centre_x(page: Page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None
    return float(box["x"] + box["width"] / 2)


def test_a_reader_saves_timezone_day_language_and_pause(
    server: tuple[str, Path],  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    base, db_path = server
    reader = _reader(db_path, "ana@example.com")
    problems: list[str] = []
    context: Any = browser.new_context(locale="en-GB", viewport={"width": 1024, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    page.goto(f"{base}/p/{make_preferences_token(SECRET, reader)}")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_label("Your timezone").select_option("Asia/Tokyo")
    page.get_by_label("Day of your weekly digest").select_option(label="Thursday")
    page.get_by_label("Language of your emails and pages").select_option(label="español")
    page.get_by_label("Pause for 2 weeks").check()
    started = datetime.now(UTC)
    page.get_by_role("button", name="Save my choices").click()

    # Their own language from now on, whatever the browser says.
    page.get_by_role("heading", name="Sus preferencias").wait_for()
    page.get_by_text("Sus cambios están guardados").wait_for()
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("html").get_attribute("dir") == "ltr"
    assert page.get_by_label("Día de su resumen semanal").input_value() == "thu"
    page.get_by_text("En pausa: su próximo resumen llegará después del").wait_for()

    saved = _subscriber(db_path, "ana@example.com")
    assert (saved.timezone, saved.delivery_day, saved.language) == ("Asia/Tokyo", "thu", "es")
    paused = _paused_until(db_path, reader)
    assert started + timedelta(weeks=2) - timedelta(minutes=5) <= paused
    assert paused <= datetime.now(UTC) + timedelta(weeks=2)
    # Left to right: the save button sits on the left of the centred column.
    assert _centre_x(page, "button[type=submit]") < 512
    _screenshot(page, "web-preferences-es.png")
    assert problems == []
    context.close()


def test_an_arabic_readers_page_is_right_to_left_and_mirrored(
    server: tuple[str, Path],  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    base, db_path = server
    reader = _reader(db_path, "samir@example.com", language="ar")
    context: Any = browser.new_context(locale="en-GB", viewport={"width": 1024, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/p/{make_preferences_token(SECRET, reader)}?saved=1")
    page.get_by_role("heading", name="تفضيلاتك").wait_for()
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "ar"
    # The notice's accent bar is on its start side: the right, in Arabic (site.css uses
    # border-inline-start, not border-left).
    style = page.locator(".notice").evaluate(
        "e => { const s = getComputedStyle(e); "
        "return [s.direction, s.borderRightWidth, s.borderLeftWidth]; }"
    )
    assert style == ["rtl", "4px", "0px"]
    # Labels and buttons start on the right of the centred column.
    assert _centre_x(page, "button[type=submit]") > 512
    assert _centre_x(page, "label[for=timezone]") > 512
    _screenshot(page, "web-preferences-ar.png")
    context.close()
