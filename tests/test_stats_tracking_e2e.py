"""Issue 15's reports end to end, for each tracking mode (docs/tracking.md, docs/reports.md):
a real `digest send` to the test SMTP server, then the links of the received messages
followed over real HTTP against a real `digest serve`, a reader unsubscribing through the
one-click URL of their List-Unsubscribe header, and `digest editions stats --json` read back.

The expected numbers do not depend on timing. Every request comes from 127.0.0.1, so in
anonymous mode the burst rule (3 different links within 5 s, digest/scanners.py) sees one
client across readers: the readers here click only two different links in all, so no burst
is possible however fast or slow the machine is; in per-reader mode each reader clicks at
most two different links. That is why the serve subprocess, whose clock cannot be driven,
is enough.

The site's URL in the mail is https://news.example.com, as behind a TLS proxy (the open
image must be https, docs/email.md rule 14); the test sends each link's path to the
server on loopback."""

from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from digest.config import load_settings
from digest.links import Links
from tests.builders import add_articles, article, make_db, subscribe
from tests.relay import Relay, free_port, running_relay
from tests.serving import digest_command, digest_env, digest_serve

SITE = "https://news.example.com"
SECRET = "stats-e2e-secret"
TIMEOUT = 30.0  # a safety net for every wait: reaching it fails the test
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IMAGE_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
READERS = {
    "ana@example.com": ("Opioid Drugs",),
    "ben@example.com": ("Courts",),
    "cat@example.com": ("Opioid Drugs", "Courts"),
    "dan@example.com": ("Courts",),
}
ARTICLES = {"o1": "Opioid Drugs", "o2": "Opioid Drugs", "c1": "Courts", "c2": "Courts"}
# Who clicks what: two different links in all (o1, c1), so no burst in any mode.
CLICKS = (
    ("ana@example.com", "o1"),
    ("cat@example.com", "o1"),
    ("cat@example.com", "c1"),
    ("ben@example.com", "c1"),
    ("ben@example.com", "c1"),  # twice: two clicks, one reader
)
TRACKING_TABLES = ("click_counts", "open_counts", "reader_clicks", "reader_opens")


def _run(config: Path, db: Path, *args: str) -> Any:
    done = subprocess.run(
        digest_command(config, db, *args),
        env=digest_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    def request(
        self,
        url: str,
        *,
        method: str = "GET",
        agent: str = BROWSER,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One request for a link of the mail (it names SITE) on our server; redirects are
        not followed."""
        assert url.startswith(f"{SITE}/"), url
        conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            conn.request(method, urlsplit(url).path, body, {"User-Agent": agent, **(headers or {})})
            response = conn.getresponse()
            return Answer(response.status, dict(response.getheaders()), response.read())
        finally:
            conn.close()


class _Links(HTMLParser):
    """The HTML part's links (href and text) and images."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.images: list[str] = []
        self._open: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a":
            self._open = (a.get("href") or "", [])
        elif tag == "img":
            self.images.append(a.get("src") or "")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.links.append((self._open[0], " ".join("".join(self._open[1]).split())))
            self._open = None


def _parsed(message: EmailMessage) -> _Links:
    part = message.get_body(("html",))
    assert part is not None
    parser = _Links()
    parser.feed(str(part.get_content()))
    return parser


def article_links(message: EmailMessage) -> dict[str, str]:
    """Article key (o1...) -> the href of its headline in the HTML part."""
    found = {
        text.removeprefix("Article "): href
        for href, text in _parsed(message).links
        if text.startswith("Article ")
    }
    assert found, message
    return found


def open_images(message: EmailMessage) -> list[str]:
    return [src for src in _parsed(message).images if "/o/" in src]


@contextmanager
def serving(config: Path, db: Path) -> Iterator[Server]:
    """A real `digest serve`, once its ready line is out."""
    port = free_port()
    with digest_serve(
        digest_command(config, db, "serve", "--host", "127.0.0.1", "--port", str(port)),
        digest_env(),
        f"http://127.0.0.1:{port}",
    ):
        yield Server("127.0.0.1", port)


def snapshot(db: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the SQLite file (sqlite_master), as column -> value."""
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = {}
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            out[table] = sorted(
                (dict(zip(names, row, strict=True)) for row in cursor.fetchall()), key=repr
            )
    conn.close()
    return out


@dataclass
class Edition:
    config: Path
    db: Path
    relay: Relay
    ids: dict[str, int]  # address -> subscriber id
    categories: dict[str, int]  # name -> id
    messages: dict[str, EmailMessage]
    edition_id: int
    mode: str  # [tracking] clicks and opens


@pytest.fixture(params=["off", "anonymous", "per-reader"])
def edition(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Edition]:
    """Four readers of two categories, sent this week's edition for real by `digest send`
    with [tracking] clicks and opens set to the mode."""
    now = datetime.now(UTC)
    db_path = tmp_path / "site.db"
    db = make_db(db_path, ("Opioid Drugs", "Courts"))
    add_articles(
        db,
        [article(key, (name,), now - timedelta(days=1)) for key, name in ARTICLES.items()],
        now - timedelta(hours=1),
    )
    ids = {
        email: subscribe(db, email, cats, now=now - timedelta(days=30))
        for email, cats in READERS.items()
    }
    categories = {str(r[1]): int(r[0]) for r in db.execute("SELECT id, name FROM categories")}
    db.close()
    with running_relay() as relay:
        config = tmp_path / "digest.toml"
        config.write_text(
            f'secret_key = "{SECRET}"\n[site]\nurl = "{SITE}"\nname = "Legal Reader"\n'
            f'[smtp]\nurl = "{relay.url}"\ntimeout = 5.0\n'
            f'[tracking]\nclicks = "{request.param}"\nopens = "{request.param}"\n',
            encoding="utf-8",
        )
        report = _run(config, db_path, "send", "--json")
        assert (report["status"], report["recipients"], report["sent"]) == ("complete", 4, 4)
        messages = {r.recipients[0]: r.message for r in relay.wait_for_count(4)}
        assert set(messages) == set(READERS)
        yield Edition(
            config,
            db_path,
            relay,
            ids,
            categories,
            messages,
            int(report["edition_id"]),
            request.param,
        )


def _click_and_open(edition: Edition, server: Server) -> None:
    for reader, key in CLICKS:
        answer = server.request(article_links(edition.messages[reader])[key])
        assert (answer.status, answer.headers["Location"]) == (302, f"{SITE}/{key}")
    # A link checker's HEAD on Ben's link: answered the same, counted apart.
    scan = server.request(article_links(edition.messages["ben@example.com"])["c1"], method="HEAD")
    assert (scan.status, scan.headers["Location"]) == (302, f"{SITE}/c1")
    # Ana's mail shown twice, Cat's once; Ben's image fetched by Gmail's proxy.
    for reader, agent in (
        ("ana@example.com", BROWSER),
        ("ana@example.com", BROWSER),
        ("cat@example.com", BROWSER),
        ("ben@example.com", IMAGE_PROXY),
    ):
        (image,) = open_images(edition.messages[reader])
        answer = server.request(image, agent=agent)
        assert (answer.status, answer.headers["Content-Type"]) == (200, "image/gif")


def _follow_untracked(edition: Edition, server: Server) -> None:
    """Off: the mail holds the articles' own URLs and no image; a tracked link of this edition
    (as mailed under another mode) still leads to the article and records nothing."""
    for reader, message in edition.messages.items():
        links = article_links(message)
        expected = {k for k, name in ARTICLES.items() if name in READERS[reader]}
        assert links == {key: f"{SITE}/{key}" for key in expected}
        assert open_images(message) == []
        html = _parsed(message)
        assert not any("/r/" in href or "/o/" in href for href, _ in html.links)
        assert not any("/o/" in src for src in html.images)
        text = message.get_body(("plain",))
        assert text is not None and f"{SITE}/r/" not in str(text.get_content())
    site_links = Links.from_settings(load_settings(str(edition.config), str(edition.db)))
    tracked = site_links.click(edition.edition_id, edition.categories["Courts"], "a-c1")
    for method in ("GET", "HEAD"):
        answer = server.request(tracked, method=method)
        assert (answer.status, answer.headers["Location"]) == (302, f"{SITE}/c1")
    assert server.request(site_links.open_image(edition.edition_id)).status == 200


def _unsubscribe(edition: Edition, server: Server) -> None:
    """Dan leaves through his message's List-Unsubscribe one-click URL (RFC 8058)."""
    message = edition.messages["dan@example.com"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = str(message["List-Unsubscribe"]).strip().removeprefix("<").removesuffix(">")
    answer = server.request(
        url,
        method="POST",
        body="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status == 200, answer


def zero(**figures: int) -> dict[str, int]:
    keys = (
        "recipients", "sent", "pending", "deferred", "failed", "undeliverable", "skipped",
        "bounced_hard", "bounced_soft", "complained", "policy", "unsubscribed",
    )  # fmt: skip
    return dict.fromkeys(keys, 0) | figures


def test_editions_stats_counts_clicks_opens_and_unsubscribes(edition: Edition) -> None:
    mode = edition.mode
    tracked, per_reader = mode != "off", mode == "per-reader"
    with serving(edition.config, edition.db) as server:
        before = snapshot(edition.db)
        if tracked:
            _click_and_open(edition, server)
        else:
            _follow_untracked(edition, server)
        after = snapshot(edition.db)
        _unsubscribe(edition, server)
    # Every table of the file, before and after the clicks and opens: they wrote to the
    # tracking tables only, and in anonymous mode only to the counts, which name no reader.
    written = {
        "off": set(),
        "anonymous": {"click_counts", "open_counts"},
        "per-reader": {"click_counts", "open_counts", "reader_clicks", "reader_opens"},
    }
    assert {t for t in after if after[t] != before.get(t)} == written[mode]
    _check_tables(edition, after, mode)

    data = _run(edition.config, edition.db, "editions", "stats", "--json")
    assert data["edition"]["id"] == edition.edition_id
    assert data["deliveries"] == zero(recipients=4, sent=4, unsubscribed=1)

    def clicks(people: int, scanners: int, readers: int) -> dict[str, int | None]:
        if not tracked:
            return {"clicks": 0, "scanner_clicks": 0, "readers": None}
        return {
            "clicks": people,
            "scanner_clicks": scanners,
            "readers": readers if per_reader else None,
        }

    assert data["categories"] == [
        {
            "category": "Opioid Drugs",
            "slug": "opioid-drugs",
            **zero(recipients=2, sent=2),  # Ana, Cat
            "clicks": clicks(2, 0, 2),  # o1: Ana and Cat
        },
        {
            "category": "Courts",
            "slug": "courts",
            **zero(recipients=3, sent=3, unsubscribed=1),  # Ben, Cat, Dan (left)
            "clicks": clicks(3, 1, 2),  # c1: Cat, Ben twice; Ben's HEAD apart
        },
    ]
    articles = [
        {
            "article_id": "a-c1",
            "title": "Article c1",
            "url": f"{SITE}/c1",
            "category": "Courts",
            **clicks(3, 1, 2),
        },
        {
            "article_id": "a-o1",
            "title": "Article o1",
            "url": f"{SITE}/o1",
            "category": "Opioid Drugs",
            **clicks(2, 0, 2),
        },
    ]
    assert data["clicks"] == {**clicks(5, 1, 3), "articles": articles if tracked else []}
    assert data["opens"] == {
        "opens": 3 if tracked else 0,
        "scanner_opens": 1 if tracked else 0,
        "readers": 2 if per_reader else None,  # Ana and Cat; the proxy is no reader
        "label": "opens (unreliable: mail privacy features prefetch images)",
    }


def _check_tables(edition: Edition, tables: dict[str, list[dict[str, Any]]], mode: str) -> None:
    """What the clicks and opens left in the database, read straight from the tables."""
    if mode == "off":
        assert all(tables[t] == [] for t in TRACKING_TABLES)
        return
    addresses = set(edition.ids)
    for table in TRACKING_TABLES:
        for row in tables[table]:
            assert not addresses & {str(v) for v in row.values()}, (table, row)
    for table in ("click_counts", "open_counts"):
        assert tables[table] and all("subscriber" not in c for c in tables[table][0]), table
    ids = {v: k for k, v in edition.ids.items()}
    reader_clicks = sorted(
        (ids[r["subscriber_id"]], r["article_id"], r["scanner"]) for r in tables["reader_clicks"]
    )
    reader_opens = sorted((ids[r["subscriber_id"]], r["scanner"]) for r in tables["reader_opens"])
    if mode == "anonymous":
        # Nothing names a reader: no reader rows, and the only rows the clicks and opens
        # wrote (the snapshot diff in the test) are the counts, which have no reader column.
        assert reader_clicks == [] and reader_opens == []
        return
    assert reader_clicks == sorted(
        [(reader, f"a-{key}", 0) for reader, key in CLICKS] + [("ben@example.com", "a-c1", 1)]
    )
    assert reader_opens == [
        ("ana@example.com", 0),
        ("ana@example.com", 0),
        ("ben@example.com", 1),
        ("cat@example.com", 0),
    ]


def test_opens_on_an_http_site_are_refused_naming_the_setting(tmp_path: Path) -> None:
    """The open image is served from site.url: on an http site the send refuses before the
    relay with one line naming the settings, not a line of the shipped template."""
    db_path = tmp_path / "site.db"
    db = make_db(db_path, ("Courts",))
    now = datetime.now(UTC)
    add_articles(db, [article("c1", ("Courts",), now - timedelta(days=1))], now)
    subscribe(db, "ben@example.com", ("Courts",), now=now - timedelta(days=30))
    db.close()
    with running_relay() as relay:
        config = tmp_path / "digest.toml"
        config.write_text(
            f'secret_key = "{SECRET}"\n[site]\nurl = "http://127.0.0.1:8080"\n'
            f'[smtp]\nurl = "{relay.url}"\n[tracking]\nopens = "anonymous"\n',
            encoding="utf-8",
        )
        done = subprocess.run(
            digest_command(config, db_path, "send"),
            env=digest_env(),
            capture_output=True,
            text=True,
        )
        assert relay.received == []
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "Error: tracking.opens: the open image would be served from 'http://127.0.0.1:8080', "
        "not an https URL (docs/email.md rule 14): set site.url to the site's https address, "
        'or tracking.opens = "off"\n'
    )
