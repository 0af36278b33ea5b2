"""Engagement tracking end to end (docs/tracking.md): a real send to the test SMTP server, then
the links in the mail followed over real HTTP against the web app under waitress, for each
mode; the counts read back through digest/store/tracking.py, the functions the reports use."""

from __future__ import annotations

import dataclasses
import http.client
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import waitress
from click.testing import CliRunner

from digest.app import App
from digest.cli import cli
from digest.config import Settings, TrackingSettings
from digest.links import Links
from digest.store import open_db
from digest.store.tracking import ClickCount, OpenCount, edition_clicks, edition_opens
from digest.web import create_app
from digest.web.tracking import PIXEL
from tests.builders import NOW, add_articles, article, make_db, send_at, settings_for, subscribe
from tests.relay import Relay, running_relay

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFE_LINKS = "Mozilla/5.0 (compatible; Microsoft Office 365 SafeLinks)"
# The articles' own URLs (tests/builders.py) and the redirects standing in for them.
ARTICLE_LINK = re.compile(r"https://news\.example\.com/(?:[oc]\d|r/\S+)")
TRACKING_TABLES = ("click_counts", "open_counts", "reader_clicks", "reader_opens")


@dataclass
class Clock:
    now: datetime = NOW + timedelta(hours=2)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Site:
    """An edition sent to the relay, and the readers' web app serving its links."""

    base: str
    db_path: Path
    settings: Settings
    relay: Relay
    clock: Clock
    ids: dict[str, int] = field(default_factory=dict)  # address -> subscriber id
    edition_id: int = 0

    def get(self, url: str, *, agent: str = BROWSER, method: str = "GET") -> Answer:
        """Fetch a link from the mail on our server (the mail names site.url), not following
        redirects."""
        path = urlsplit(url).path
        host, port = urlsplit(self.base).netloc.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request(method, path, headers={"User-Agent": agent})
            response = conn.getresponse()
            return Answer(response.status, dict(response.getheaders()), response.read())
        finally:
            conn.close()

    def message(self, address: str) -> EmailMessage:
        (received,) = [r for r in self.relay.received if r.recipients == [address]]
        return received.message

    def clicks(self) -> list[ClickCount]:
        db = open_db(self.db_path)
        try:
            return edition_clicks(db, self.edition_id)
        finally:
            db.close()

    def opens(self) -> OpenCount:
        db = open_db(self.db_path)
        try:
            return edition_opens(db, self.edition_id)
        finally:
            db.close()

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db_path) as conn:
            return conn.execute(f"SELECT * FROM {table}").fetchall()


def article_links(message: EmailMessage) -> tuple[list[str], list[str]]:
    """The article links of the HTML part (headline, "Read the article") and the text part."""
    page = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html_links = [u for u in re.findall(r'href="([^"]+)"', page) if ARTICLE_LINK.fullmatch(u)]
    text_links = [u for u in re.findall(r"https?://\S+", text) if ARTICLE_LINK.fullmatch(u)]
    return html_links, text_links


def open_images(message: EmailMessage) -> list[str]:
    page = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return re.findall(r'<img src="([^"]+/o/[^"]+)"', page)


@contextmanager
def tracking_site(tmp_path: Path, clicks: str, opens: str) -> Iterator[Site]:
    db_path = tmp_path / "site.db"
    db = make_db(db_path)
    add_articles(
        db,
        [
            article("o1", ("Opioid Drugs",), NOW - timedelta(days=1)),
            article("o2", ("Opioid Drugs", "Courts"), NOW - timedelta(days=2)),
            article("o3", ("Opioid Drugs",), NOW - timedelta(days=3)),
            article("c1", ("Courts",), NOW - timedelta(days=2)),
        ],
        imported=NOW - timedelta(days=1, hours=1),
    )
    ids = {
        address: subscribe(db, address, categories)
        for address, categories in (
            ("ana@example.com", ("Opioid Drugs",)),
            ("bo@example.com", ("Opioid Drugs", "Courts")),
        )
    }
    with running_relay() as relay:
        settings = dataclasses.replace(
            settings_for(db_path, relay.url), tracking=TrackingSettings(clicks, opens)
        )
        report = send_at(db, settings, NOW)
        assert report.sent == 2
        edition_id = db.execute("SELECT MAX(id) FROM editions").fetchone()[0]
        db.close()
        clock = Clock()
        server = waitress.create_server(
            create_app(settings, clock=clock), host="127.0.0.1", port=0, threads=4
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            yield Site(
                f"http://127.0.0.1:{server.effective_port}",
                db_path,
                settings,
                relay,
                clock,
                ids,
                edition_id,
            )
        finally:
            # Closed from the server's own loop, which then ends: no socket pulled from
            # under a select().
            server.trigger.pull_trigger(server.close)
            thread.join(10)
            server.task_dispatcher.shutdown()


def test_off_mails_the_plain_urls_with_no_image_and_stores_nothing(tmp_path: Path) -> None:
    with tracking_site(tmp_path, "off", "off") as site:
        for address in site.ids:
            message = site.message(address)
            html_links, text_links = article_links(message)
            assert html_links and text_links
            assert all("/r/" not in u for u in html_links + text_links)
            assert open_images(message) == []
            data = site.relay.received[0].data
            assert b"/r/" not in data and b"/o/" not in data
        # A tracked link of that edition (as mailed under another mode) still leads to the
        # article, and nothing is recorded.
        links = Links.from_settings(site.settings)
        category = site.rows("categories")[0][0]
        answer = site.get(links.click(site.edition_id, int(str(category)), "a-o1"))
        assert (answer.status, answer.headers["Location"]) == (302, "https://news.example.com/o1")
        assert site.get(links.open_image(site.edition_id)).body == PIXEL
        for table in TRACKING_TABLES:
            assert site.rows(table) == []


def test_anonymous_counts_clicks_and_opens_and_names_no_reader(tmp_path: Path) -> None:
    with tracking_site(tmp_path, "anonymous", "anonymous") as site:
        ana, bo = site.message("ana@example.com"), site.message("bo@example.com")
        ana_html, ana_text = article_links(ana)
        bo_html, _ = article_links(bo)
        # Both parts carry the same redirects, and every reader gets the same one for an
        # article: the link names the edition, article and category, never the reader.
        assert sorted(set(ana_html)) == sorted(set(ana_text))
        assert all(urlsplit(u).path.count("/") == 2 for u in ana_html + bo_html)
        assert set(ana_html) <= set(bo_html)
        target = {}
        for url in dict.fromkeys(ana_html):  # headline and "Read the article" are one link
            answer = site.get(url)
            assert answer.status == 302
            assert answer.headers["Cache-Control"].startswith("no-cache")
            target[url] = answer.headers["Location"]
            site.clock.now += timedelta(minutes=1)  # a reader, reading
        assert sorted(target.values()) == [f"https://news.example.com/o{i}" for i in (1, 2, 3)]
        last = site.get(bo_html[-1]).headers["Location"]
        (image,) = open_images(ana)
        assert open_images(bo) == [image]
        answer = site.get(image)
        assert (answer.status, answer.headers["Content-Type"], answer.body) == (
            200,
            "image/gif",
            PIXEL,
        )
        assert "no-store" in answer.headers["Cache-Control"]
        assert answer.headers["Pragma"] == "no-cache"

        clicks = site.clicks()
        expected = Counter(f"a-{u.rsplit('/', 1)[1]}" for u in [*target.values(), last])
        assert {c.article_id: c.clicks for c in clicks} == expected
        assert all(c.scanner_clicks == 0 and c.readers is None for c in clicks)
        assert site.opens() == OpenCount(opens=1, scanner_opens=0, readers=None)
        # Every table of the database: no reader row, and no tracking row naming a reader.
        assert site.rows("reader_clicks") == [] and site.rows("reader_opens") == []
        with sqlite3.connect(site.db_path) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
        for table in tables:
            for row in site.rows(table):
                if table in TRACKING_TABLES:
                    assert not any(v in ("ana@example.com", "bo@example.com") for v in row)
                    assert "subscriber_id" not in _columns(site.db_path, table) or not row
        for table in ("click_counts", "open_counts"):
            assert "subscriber_id" not in _columns(site.db_path, table)


def _columns(db_path: Path, table: str) -> list[str]:
    with sqlite3.connect(db_path) as conn:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def test_per_reader_records_who_clicked_and_forget_erases_it(tmp_path: Path) -> None:
    with tracking_site(tmp_path, "per-reader", "per-reader") as site:
        ana, bo = site.message("ana@example.com"), site.message("bo@example.com")
        ana_html, ana_text = article_links(ana)
        bo_html, _ = article_links(bo)
        assert sorted(set(ana_html)) == sorted(set(ana_text))  # the text part's URL is whole
        assert not set(ana_html) & set(bo_html)  # each reader's links are their own
        first = ana_html[0]
        for url in (first, first, bo_html[0]):
            assert site.get(url).status == 302
            site.clock.now += timedelta(minutes=1)
        assert site.get(open_images(ana)[0]).status == 200
        assert site.get(open_images(bo)[0]).status == 200

        readers = {row[4] for row in site.rows("reader_clicks")}
        assert readers == {site.ids["ana@example.com"], site.ids["bo@example.com"]}
        assert len(site.rows("reader_clicks")) == 3
        by_article = {c.article_id: c for c in site.clicks()}
        assert by_article["a-o1"] == ClickCount("a-o1", by_article["a-o1"].category_id, 3, 0, 2)
        assert site.opens() == OpenCount(opens=2, scanner_opens=0, readers=2)

        # `digest subscribers forget` erases her rows; the counts stay, naming nobody.
        result = CliRunner().invoke(
            cli,
            ["--db", str(site.db_path), "subscribers", "forget", "ana@example.com"],
            env={"DIGEST_SECRET_KEY": "test-secret-key"},
        )
        assert result.exit_code == 0, result.output
        ana_id = site.ids["ana@example.com"]
        assert all(row[4] != ana_id for row in site.rows("reader_clicks"))
        assert all(row[2] != ana_id for row in site.rows("reader_opens"))
        assert sum(c.clicks for c in site.clicks()) == 3
        # Her old link still works, and records her no more.
        assert site.get(first).status == 302
        assert all(row[4] != ana_id for row in site.rows("reader_clicks"))
        assert sum(c.clicks for c in site.clicks()) == 4

        # The API's forget too (DELETE /api/v1/subscribers/<id>), over the same server.
        core = App.open(site.settings)
        key = core.add_api_key("write", "write").token
        core.close()
        host, port = urlsplit(site.base).netloc.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        bo_id = site.ids["bo@example.com"]
        conn.request(
            "DELETE", f"/api/v1/subscribers/{bo_id}", headers={"Authorization": f"Bearer {key}"}
        )
        assert conn.getresponse().status == 204
        conn.close()
        assert site.rows("reader_clicks") == [] and site.rows("reader_opens") == []


@pytest.mark.parametrize("mode", ["anonymous", "per-reader"])
def test_forged_and_altered_tokens_are_404_and_never_redirect(tmp_path: Path, mode: str) -> None:
    with tracking_site(tmp_path, mode, mode) as site:
        html_links, _ = article_links(site.message("bo@example.com"))
        good = urlsplit(html_links[0]).path
        click, rest = good[len("/r/") :].partition("/")[::2]
        edition, category, art, signature = click.split(".")
        other = Links("https://news.example.com", "another-secret")
        image = urlsplit(open_images(site.message("bo@example.com"))[0]).path
        bad = [
            f"/r/{edition}.{category}.{art}.{signature[:-1]}A",  # signature altered
            f"/r/{edition}.{category}.YS1vMg.{signature}",  # another article, same signature
            f"/r/{int(edition, 36) + 1:x}.{category}.{art}.{signature}",  # another edition
            urlsplit(other.click(site.edition_id, 1, "a-o1")).path,  # another key
            "/r/https:%2F%2Fevil.example%2F",
            "/r/" + "x" * 500,
            image.replace("/o/", "/r/"),  # an open token is no click token
            good.replace("/r/", "/o/"),  # nor the other way round
        ]
        if mode == "per-reader":
            reader = rest.split(".")
            bad.append(f"/r/{click}/{reader[0]}.{reader[1][:-1]}x")  # reader part altered
            bad.append(f"/r/{click}/{'2' if reader[0] != '2' else '3'}.{reader[1]}")  # moved
        for path in bad:
            answer = site.get(site.base + path)
            assert answer.status == 404, path
            assert "Location" not in answer.headers
        assert site.rows("click_counts") == [] and site.rows("reader_clicks") == []
        assert site.get(site.base + good).status == 302


def test_head_and_scanner_agents_are_counted_apart(tmp_path: Path) -> None:
    with tracking_site(tmp_path, "per-reader", "anonymous") as site:
        html_links, _ = article_links(site.message("ana@example.com"))
        url = html_links[0]
        head = site.get(url, method="HEAD")
        assert (head.status, head.headers["Location"]) == (302, "https://news.example.com/o1")
        site.clock.now += timedelta(minutes=1)
        assert site.get(url, agent=SAFE_LINKS).status == 302
        site.clock.now += timedelta(minutes=1)
        assert site.get(url).status == 302
        (count,) = [c for c in site.clicks() if c.article_id == "a-o1"]
        assert (count.clicks, count.scanner_clicks, count.readers) == (1, 2, 1)
        assert sorted(row[6] for row in site.rows("reader_clicks")) == [0, 1, 1]
        image = open_images(site.message("ana@example.com"))[0]
        proxy = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
        proxy += "GoogleImageProxy)"
        site.get(image, agent=proxy)
        site.get(image)
        assert site.opens() == OpenCount(opens=1, scanner_opens=1, readers=None)


def test_a_burst_right_after_delivery_is_a_scanner(tmp_path: Path) -> None:
    with tracking_site(tmp_path, "per-reader", "off") as site:
        ana_links = list(dict.fromkeys(article_links(site.message("ana@example.com"))[0]))
        bo_links = list(dict.fromkeys(article_links(site.message("bo@example.com"))[0]))
        assert len(ana_links) == 3
        # Seconds after the delivery, every link of Ana's message at once: a scanner, the
        # first two recounted once the third shows the burst.
        site.clock.now = NOW + timedelta(seconds=20)
        for url in ana_links:
            assert site.get(url).status == 302
        # Bo opens three articles in tabs, but an hour later: a reader.
        site.clock.now = NOW + timedelta(hours=1)
        for url in bo_links[:3]:
            assert site.get(url).status == 302
        ana_id = site.ids["ana@example.com"]
        flags = {(row[4], row[2]): row[6] for row in site.rows("reader_clicks")}
        assert sorted(v for (who, _), v in flags.items() if who == ana_id) == [1, 1, 1]
        assert sorted(v for (who, _), v in flags.items() if who != ana_id) == [0, 0, 0]
        assert sum(c.scanner_clicks for c in site.clicks()) == 3
        assert sum(c.clicks for c in site.clicks()) == 3


def test_an_anonymous_burst_is_told_by_the_client_address_kept_in_memory(tmp_path: Path) -> None:
    with tracking_site(tmp_path, "anonymous", "off") as site:
        links = list(dict.fromkeys(article_links(site.message("bo@example.com"))[0]))
        for url in links[:2]:
            site.get(url)
            site.clock.now += timedelta(minutes=1)
        assert sum(c.clicks for c in site.clicks()) == 2
        site.clock.now += timedelta(minutes=5)
        for url in links[:3]:  # three within the same second, from one address
            site.get(url)
        assert sum(c.scanner_clicks for c in site.clicks()) == 3
        assert sum(c.clicks for c in site.clicks()) == 2
        assert "127.0.0.1" not in repr([site.rows(t) for t in TRACKING_TABLES])


def test_a_bad_tracking_mode_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text('[tracking]\nclicks = "always"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["send", "--dry-run"])
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [
        "Error: digest.toml: tracking.clicks: expected off, anonymous, per-reader, got 'always'"
    ]
