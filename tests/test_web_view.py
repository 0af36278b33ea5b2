"""The "View in browser" link end to end (docs/email.md rule 28): the sample sent for real
through an SMTP relay on loopback, then each reader's link opened in Chromium through a
running `digest serve`: the same articles, the same language, the reader's own links. A
forged token, or a genuine one for an edition the reader was not sent, is a 404."""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from digest.app import App
from digest.config import load_settings
from digest.links import Links
from digest.store import Store
from tests.relay import Relay, free_port, running_relay
from tests.serving import chromium, digest_command, digest_env, digest_serve

SECRET = "view-test-secret"
# A safety net for every wait: reaching it fails the test, it never makes one pass.
TIMEOUT = 30.0


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path, Path, Relay]]:
    """The sample database, a relay, and a config naming both and the site's URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running_relay() as relay:
        config = tmp_path / "digest.toml"
        config.write_text(
            f'secret_key = "{SECRET}"\n[site]\nurl = "{base}"\nname = "Legal Reader"\n'
            f'[smtp]\nurl = "{relay.url}"\ntimeout = 5.0\n',
            encoding="utf-8",
        )
        db = tmp_path / "site.db"
        subprocess.run(
            digest_command(config, db, "init", "--sample"),
            env=digest_env(),
            check=True,
            cwd=tmp_path,
            capture_output=True,
        )
        # One reader in Spanish: their copy on the web must be Spanish too.
        readers = tmp_path / "readers.csv"
        readers.write_text(
            "email,name,categories,language\nlector@example.com,Lector,Courts,es\n",
            encoding="utf-8",
        )
        settings = load_settings(str(config), str(db))
        app = App(settings, Store(db, create=False))
        try:
            assert app.import_subscribers(readers, strict=True).added == 1
        finally:
            app.close()
        yield base, config, db, relay


@pytest.fixture
def server(site: tuple[str, Path, Path, Relay]) -> Iterator[str]:
    base, config, db, _ = site
    port = base.rsplit(":", 1)[1]
    with digest_serve(
        digest_command(config, db, "serve", "--host", "127.0.0.1", "--port", port),
        digest_env(),
        base,
    ):
        yield base


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _headlines(html: str) -> list[str]:
    """The article links in the order the digest shows them: each headline's href."""
    return re.findall(r'<h3[^>]*>\s*<a\s+href="([^"]+)"', html)


def _headings(html: str) -> list[str]:
    found = re.findall(r"<h2[^>]*>(.*?)</h2>", html, re.DOTALL)
    return [" ".join(re.sub(r"<[^>]+>", " ", h).split()) for h in found]


def test_view_in_browser_opens_this_readers_copy(
    site: tuple[str, Path, Path, Relay], server: str, browser: Browser
) -> None:
    base, config, db, relay = site
    sent = subprocess.run(
        digest_command(config, db, "send"),
        env=digest_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    messages = {r.recipients[0]: r.message for r in relay.received}
    assert {"editor@example.com", "lector@example.com", "sam.lee@example.org"} <= set(messages)
    context: Any = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    # The page may load the articles' photos from their own sites: refuse, the text is enough.
    page.route(re.compile(r"^https://"), lambda route: route.abort())

    for address in ("editor@example.com", "lector@example.com", "sam.lee@example.org"):
        message = messages[address]
        text, html = _text(message), _html(message)
        # At the top of both parts, the same link.
        view = re.search(rf"{re.escape(base)}/v/\S+", text)
        assert view, text
        assert text.index(view[0]) < text.index("Legal Reader:")
        assert html.index(f'href="{view[0]}"') < html.index("<h1")

        response = page.goto(view[0])
        assert response is not None and response.status == 200
        assert "'unsafe-inline'" in response.headers["content-security-policy"]
        shown = page.evaluate(
            "Array.from(document.querySelectorAll('h3 a')).map(a => a.getAttribute('href'))"
        )
        assert shown == _headlines(html) and shown, (address, shown, _headlines(html))
        # The same sections, with the same "5 of 7" where the digest said it.
        headings = [" ".join(h.split()) for h in page.locator("h2").all_inner_texts()]
        assert headings == _headings(html)
        # The reader's own links, the same as in their email.
        unsubscribe = re.search(rf"{re.escape(base)}/u/\S+", text)
        preferences = re.search(rf"{re.escape(base)}/p/\S+", text)
        assert unsubscribe and preferences
        for link in (unsubscribe[0], preferences[0], view[0]):
            assert page.locator(f'a[href="{link}"]').count() == 1

    lector = context.new_page()
    lector.route(re.compile(r"^https://"), lambda route: route.abort())
    view = re.search(rf"{re.escape(base)}/v/\S+", _text(messages["lector@example.com"]))
    assert view
    lector.goto(view[0])
    assert lector.evaluate("document.documentElement.lang") == "es"
    assert "Darse de baja" in lector.content()

    # A forged token, a tampered one, and a genuine one for an edition not sent: all 404.
    links = Links(base, SECRET)
    claim = links.read_view(view[0].rsplit("/", 1)[1])
    tampered = view[0][:-1] + ("A" if view[0][-1] != "A" else "B")
    other_reader = view[0].replace("/v/", "/v/1", 1)
    for url in (
        tampered,
        other_reader,
        links.view(claim.subscriber_id, claim.edition_id + 1),
        Links(base, "another-secret").view(claim.subscriber_id, claim.edition_id),
        f"{base}/v/not-a-token",
    ):
        response = page.goto(url)
        assert response is not None and response.status == 404, url


def test_a_dry_run_carries_the_link_the_send_will(
    site: tuple[str, Path, Path, Relay], tmp_path: Path
) -> None:
    """Before the edition exists, the dry run signs the link for the id the edition will be
    opened with; the real send then carries the very same link."""
    base, config, db, relay = site
    out = tmp_path / "out"
    dry = subprocess.run(
        digest_command(config, db, "send", "--dry-run", "--output", str(out)),
        env=digest_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stdout + dry.stderr
    (eml,) = out.glob("*-editor@example.com.eml")
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    dry_text = _text(parsed)
    planned = re.search(rf"{re.escape(base)}/v/\S+", dry_text)
    assert planned
    sent = subprocess.run(
        digest_command(config, db, "send"),
        env=digest_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    (message,) = relay.by_recipient()["editor@example.com"]
    real = re.search(rf"{re.escape(base)}/v/\S+", _text(message.message))
    assert real and real[0] == planned[0]
