"""Small builders for tests: a real SQLite file with categories, articles and subscribers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from digest.app import App
from digest.clock import Clock
from digest.config import SendingSettings, Settings, SmtpSettings
from digest.deliver.report import SendReport
from digest.deliver.smtp import SmtpTransport
from digest.models import Article
from digest.store import Store, open_db
from digest.store.articles import upsert_articles
from digest.store.categories import ensure_category

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # a Saturday in ISO week 2026-W48
CATEGORIES = ("Opioid Drugs", "Consumer Safety", "Courts")


def make_db(path: Path, categories: tuple[str, ...] = CATEGORIES) -> sqlite_utils.Database:
    db = open_db(path)
    for name in categories:
        ensure_category(db, name, f"News about {name.lower()}")
    return db


def article(
    key: str, categories: tuple[str, ...], published: datetime, title: str | None = None
) -> Article:
    return Article(
        id=f"a-{key}",
        url=f"https://news.example.com/{key}",
        title=title or f"Article {key}",
        published_at=published,
        categories=categories,
        summary=f"Summary of article {key}.",
        author="Staff Writer",
    )


def add_articles(db: sqlite_utils.Database, articles: list[Article], imported: datetime) -> None:
    upsert_articles(db, articles, imported, source="test")


def subscribe(
    db: sqlite_utils.Database,
    email: str,
    categories: tuple[str, ...],
    *,
    now: datetime = NOW - timedelta(days=30),
    **kwargs: Any,
) -> int:
    result = app_for(db, clock=lambda: now).add_subscriber(email, list(categories), **kwargs)
    return int(result.subscriber.id)


def app_for(
    db: sqlite_utils.Database, settings: Settings | None = None, *, clock: Clock | None = None
) -> App:
    """The application core over an open test database (its connection on this thread)."""
    store = Store.adopt(db)
    # A relay address nothing listens on: the machine's own port 25 (CI installs Postfix)
    # must never decide a test.
    settings = settings or dataclasses.replace(
        Settings(),
        db_path=store.path,
        secret_key="test-secret-key",
        smtp=SmtpSettings(url="smtp://127.0.0.1:1", timeout=5.0),
    )
    return App(settings, store, clock=clock or (lambda: NOW))


def settings_for(db_path: Path, smtp_url: str = "smtp://127.0.0.1:1", **sending: Any) -> Settings:
    base = Settings()
    return dataclasses.replace(
        base,
        db_path=str(db_path),
        secret_key="test-secret-key",
        smtp=SmtpSettings(url=smtp_url, timeout=5.0),
        sending=dataclasses.replace(SendingSettings(concurrency=2), **sending),
    )


def send_at(
    db: sqlite_utils.Database, settings: Settings, at: datetime, **options: Any
) -> SendReport:
    """A real weekly send to the relay in ``settings``, with the clock stopped at ``at`` and
    no waiting between retries."""
    app = App(
        settings,
        Store.adopt(db),
        clock=lambda: at,
        transports=lambda: SmtpTransport(settings.smtp.parsed, timeout=5),
    )
    return app.send("weekly", at, sleep=lambda s: None, retry_delay=0, **options)
