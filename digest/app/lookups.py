"""What the desk's Readers and Articles pages look up: readers by address prefix, one
reader's history of events and deliveries, the latest articles and the editions that
carried them. Each answer is one indexed query or a handful, so the pages stay fast with
100k readers (bench/desk.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from digest.app.content import Content
from digest.app.feedback import Feedback
from digest.models import Article, Edition, EditionStatus, Event, Subscriber
from digest.store import desk as desk_store
from digest.store import editions as edition_store
from digest.store import subscribers as subscriber_store
from digest.store import web as web_store


@dataclass(frozen=True)
class ReaderDelivery:
    edition_id: int
    edition: str  # "weekly 2026-W48"
    status: str
    reply: str
    articles: int


@dataclass(frozen=True)
class ReaderDetail:
    subscriber: Subscriber
    events: tuple[Event, ...]
    deliveries: tuple[ReaderDelivery, ...]


@dataclass(frozen=True)
class ArticleCarried:
    article: Article
    editions: tuple[int, ...]  # ids of the recent editions that carried it


# What a sent edition carried never changes: kept per process, by (store, edition id).
_CARRIED: dict[tuple[int, int], frozenset[str]] = {}
_CARRIED_LOCK = threading.Lock()


class Lookups(Feedback, Content):
    def _carried(self, edition: Edition) -> frozenset[str]:
        """The ids of the articles an edition sent (a scan of its deliveries' variants)."""
        key = (id(self.store), edition.id)
        with _CARRIED_LOCK:
            if key in _CARRIED:
                return _CARRIED[key]
        ids = frozenset(row.id for row in web_store.sent_articles(self.db, edition.id))
        if edition.status == EditionStatus.SENT:
            with _CARRIED_LOCK:
                _CARRIED[key] = ids
        return ids

    def search_readers(self, prefix: str, limit: int = 50) -> list[Subscriber]:
        text = prefix.strip()
        if not text:
            return []
        found = []
        for subscriber_id in desk_store.search_subscribers(self.db, text, limit):
            subscriber = subscriber_store.get_subscriber(self.db, subscriber_id)
            if subscriber is not None:
                found.append(subscriber)
        return found

    def reader_detail(self, email: str) -> ReaderDetail:
        history = self.reader_history(email)
        rows = desk_store.deliveries_of_reader(self.db, history.subscriber.id)
        return ReaderDetail(
            history.subscriber,
            history.events,
            tuple(ReaderDelivery(r[0], f"{r[1]} {r[2]}", r[3], r[4], r[5]) for r in rows),
        )

    def latest_articles(self, limit: int = 50, editions: int = 8) -> list[ArticleCarried]:
        """The newest articles, each with which of the last ``editions`` sent editions
        carried it."""
        carried: dict[str, list[int]] = {}
        for edition in edition_store.list_editions(self.db)[:editions]:
            for article_id in self._carried(edition):
                ids = carried.setdefault(article_id, [])
                if edition.id not in ids:
                    ids.append(edition.id)
        return [
            ArticleCarried(a, tuple(carried.get(a.id, ()))) for a in self.list_articles(limit=limit)
        ]
