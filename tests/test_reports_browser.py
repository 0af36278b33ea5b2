"""The desk's Stats page and an edition's figures in a real browser: Debian's Chromium
(headless, through Playwright) against a real `digest serve` subprocess over a database of
13 weekly editions. The chart and its table show the stored figures, the page does not
scroll sideways at 390 px, and screenshots at 390 and 1280 px go to test-artifacts/."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from digest.app import App, Choices
from digest.config import Settings, SiteSettings
from digest.models import Frequency
from digest.store import editions as edition_store
from digest.store import tracking
from tests.builders import make_db, subscribe
from tests.relay import free_port
from tests.serving import chromium, digest_command, digest_env, digest_serve

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT = 30.0
PASSWORD = "correct horse battery"
EDITOR = "eve@example.com"
WEEKS = 13  # one more than the chart shows: the oldest must drop out


@dataclasses.dataclass(frozen=True)
class Planned:
    edition_id: int
    period: str
    sent: int  # Courts readers sent
    clicks: int  # people's clicks on Courts


def _editions(db: Any, now: datetime) -> list[Planned]:
    """Week k (oldest first): k+1 Courts readers, k of them sent (the newest fails), and
    2k people's clicks plus one scanner click on Courts."""
    courts = int(db.execute("SELECT id FROM categories WHERE name = 'Courts'").fetchone()[0])
    planned = []
    for k in range(WEEKS):
        at = now - timedelta(weeks=WEEKS - k, hours=1)
        subscribe(db, f"reader{k}@example.com", ("Courts",), now=at - timedelta(days=1))
        year, week, _ = at.isocalendar()
        edition = edition_store.create_edition(
            db,
            frequency="weekly",
            period=f"{year}-W{week:02d}",
            starts_at=at - timedelta(days=7),
            ends_at=at,
            now=at,
        )
        ids = [
            r[0]
            for r in db.execute(
                "SELECT subscriber_id FROM deliveries WHERE edition_id = ? ORDER BY subscriber_id",
                [edition.id],
            )
        ]
        for n, subscriber_id in enumerate(ids):
            status = "sent" if n < len(ids) - 1 else "failed"
            edition_store.mark_delivery(db, edition.id, subscriber_id, status, at)
        edition_store.mark_edition(db, edition.id, "sent", at)
        for _ in range(2 * k):
            tracking.record_click(
                db,
                edition_id=edition.id,
                article_id="a-x",
                category_id=courts,
                scanner=False,
                now=at,
            )
        tracking.record_click(
            db, edition_id=edition.id, article_id="a-x", category_id=courts, scanner=True, now=at
        )
        planned.append(Planned(edition.id, edition.period, k, 2 * k))
    return planned


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, list[Planned]]]:
    db_path = tmp_path / "site.db"
    db = make_db(db_path)
    now = datetime.now(UTC).replace(microsecond=0)
    planned = _editions(db, now)
    db.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "digest.toml"
    config.write_text(
        f'secret_key = "desk-test-secret"\n[site]\nurl = "{base}"\nname = "Legal Reader"\n'
        '[smtp]\nurl = "smtp://127.0.0.1:1"\n',
        encoding="utf-8",
    )
    settings = dataclasses.replace(
        Settings(), db_path=str(db_path), secret_key="desk-test-secret", site=SiteSettings(url=base)
    )
    core = App.open(settings)
    link = core.add_editor(EDITOR, "Eve").link
    core.set_editor_password(link.rsplit("/", 1)[1], PASSWORD)
    # One web sign-up this week, not confirmed yet: the funnel's row for this week.
    choices = Choices("", (1,), ("Opioid Drugs",), Frequency.WEEKLY)
    core.sign_up("new@example.com", choices, "web")
    core.close()

    with digest_serve(
        digest_command(config, db_path, "serve", "--host", "127.0.0.1", "--port", str(port)),
        digest_env(),
        base,
    ):
        yield base, planned


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_stats_page_chart_and_table_show_the_stored_figures(
    server: tuple[str, list[Planned]], browser: Browser
) -> None:
    base, planned = server
    shown = planned[1:]  # the last 12 editions, oldest first
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":  # a CSP violation, a broken page
            problems.append(message.text)

    context: Any = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", on_console)
    page.goto(f"{base}/admin/stats")
    page.get_by_label("Email address").fill(EDITOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Stats", exact=True)).to_be_visible()

    card = page.locator("#chart-courts")
    chart = card.get_by_role("img", name="Courts: readers and clicks per edition")
    expect(chart).to_be_visible()
    assert chart.evaluate("e => e.tagName") == "svg"
    desc = f"{len(shown)} edition(s), {shown[0].period} to {shown[-1].period}"
    assert desc in card.locator("desc").text_content()
    # The bars are the stored figures, in order; so is the table beside them.
    bars = card.locator("rect.bar")
    assert [int(b.get_attribute("data-sent") or -1) for b in bars.all()] == [p.sent for p in shown]
    expect(card.locator("text.value")).to_have_text([str(p.sent) for p in shown])
    rows = card.locator("table.chart-table tbody tr")
    expect(rows).to_have_count(12)
    expect(rows.locator("th")).to_have_text([p.period for p in shown])
    expect(rows.locator("td:nth-child(2)")).to_have_text([str(p.sent) for p in shown])
    expect(rows.locator("td:nth-child(3)")).to_have_text([str(p.clicks) for p in shown])
    expect(card.get_by_role("link", name=planned[0].period)).to_have_count(0)
    # Taller bars for more readers: the chart is drawn to scale.
    heights = [float(b.get_attribute("height") or 0) for b in bars.all()]
    assert heights == sorted(heights) and 0 < heights[0] < heights[-1]
    # The funnel: this week's unconfirmed sign-up.
    funnel = page.locator("table.funnel tbody tr").last
    expect(funnel.locator("td")).to_have_text(["1", "0", "0%", "-"])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "desk-stats-1280.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the stats page scrolls sideways on a phone ({width} px)"
    box = chart.bounding_box()
    assert box is not None and 300 <= box["width"] <= 390  # the chart fills the phone's width
    page.screenshot(path=str(ARTIFACTS / "desk-stats-390.png"), full_page=True)

    # The newest edition's own page shows the same figures as `digest editions stats`.
    newest = planned[-1]
    page.get_by_role("link", name=newest.period).click()
    figures = page.locator("section", has=page.get_by_role("heading", name="What it did"))
    expect(figures.locator("dt", has_text=re.compile("^Sent$")).locator("+ dd")).to_have_text(
        str(newest.sent)
    )
    expect(figures.locator("dt", has_text="Clicks by people").locator("+ dd")).to_have_text(
        str(newest.clicks)
    )
    expect(figures.locator("dt", has_text="Clicks by link scanners").locator("+ dd")).to_have_text(
        "1"
    )
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the edition page scrolls sideways on a phone ({width} px)"
    page.screenshot(path=str(ARTIFACTS / "desk-edition-stats-390.png"), full_page=True)
    assert problems == []
    context.close()
