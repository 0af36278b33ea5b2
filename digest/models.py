"""Frozen values that travel through the pipeline. Times are timezone-aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained", "forgotten")
# Statuses that must never be mailed again by any path.
SUPPRESSED_STATUSES = ("unsubscribed", "bounced", "complained", "forgotten")
FREQUENCIES = ("weekly", "daily")


@dataclass(frozen=True)
class Category:
    id: int
    slug: str
    name: str
    description: str = ""
    article_count: int = 0
    subscriber_count: int = 0


@dataclass(frozen=True)
class Article:
    """An article as stored. ``id`` is stable: derived from the feed GUID, else the URL,
    else a hash of the content, so re-imports update instead of duplicating."""

    id: str
    url: str
    title: str
    published_at: datetime
    categories: tuple[str, ...] = ()  # category names
    summary: str = ""
    body_html: str = ""
    author: str = ""
    image_url: str = ""
    image_alt: str = ""
    guid: str = ""  # the feed's own identifier, when it gave one


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str = ""
    status: str = "active"
    frequency: str = "weekly"
    timezone: str = "UTC"
    categories: tuple[str, ...] = ()  # category names, in the subscriber's order
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    source: str = ""


@dataclass(frozen=True)
class Event:
    subscriber_id: int
    kind: str
    at: datetime
    source: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Edition:
    """One send of one frequency for one period, e.g. weekly 2026-W48 or daily 2026-11-28."""

    id: int
    frequency: str
    period: str
    starts_at: datetime
    ends_at: datetime
    status: str = "open"  # open, complete, skipped
    created_at: datetime | None = None
    completed_at: datetime | None = None
    note: str = ""


@dataclass(frozen=True)
class Delivery:
    edition_id: int
    subscriber_id: int
    status: str  # pending, sending, sent, failed, skipped, bounced
    article_ids: tuple[str, ...] = ()
    attempts: int = 0
    reply: str = ""
    message_id: str = ""


@dataclass(frozen=True)
class OutgoingMessage:
    """A transport-neutral message: who it goes to and the exact bytes to send."""

    sender: str  # envelope MAIL FROM
    recipient: str  # envelope RCPT TO
    data: bytes  # the whole message, CRLF line endings
    message_id: str = ""
    subscriber_id: int | None = None
    subject: str = ""  # as the reader sees it, decoded: for manifests and reports


@dataclass(frozen=True)
class Section:
    """One category's block in a digest: newest article first."""

    category: str  # display name
    slug: str
    articles: tuple[Article, ...]


@dataclass(frozen=True)
class DigestContent:
    """One content variant: everything in a digest that is the same for every recipient who
    gets the same articles. Rendering compiles MJML once per DigestContent."""

    site_name: str
    frequency: str  # weekly or daily
    starts_at: datetime  # the period the edition covers, for the header
    ends_at: datetime
    sections: tuple[Section, ...]
    edition_id: int | None = None
    # Articles left out to stay under Gmail's clipping limit (filled in by render).
    trimmed: int = 0

    @property
    def article_count(self) -> int:
        return sum(len(s.articles) for s in self.sections)

    @property
    def article_ids(self) -> tuple[str, ...]:
        return tuple(a.id for s in self.sections for a in s.articles)


@dataclass(frozen=True)
class Recipient:
    """The per-recipient part of a message: cheap substitutions into a rendered variant."""

    subscriber_id: int
    email: str
    name: str = ""
