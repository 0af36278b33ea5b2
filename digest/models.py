"""Frozen values that travel through the pipeline. Times are timezone-aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class SubscriberStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    FORGOTTEN = "forgotten"

    @property
    def suppressed(self) -> bool:
        """Never mailed again by any path, and never re-subscribed by an import."""
        return self in SUPPRESSED_STATUSES

    @property
    def operator_only(self) -> bool:
        """Only the operator may bring this reader back: a bounced address cannot receive
        mail, a complaint is the strongest "never again", a forgotten reader asked to be
        erased. (An unsubscribed reader may come back by their own fresh consent.)"""
        return self in OPERATOR_ONLY_STATUSES


class Frequency(StrEnum):
    WEEKLY = "weekly"
    DAILY = "daily"


class EditionStatus(StrEnum):
    """draft -> approved -> sending -> sent, or cancelled; held when approval is required
    and the send time came without it. An edition sent without a draft starts at sending."""

    DRAFT = "draft"  # prepared: cutoff fixed, editors may steer it; no recipients yet
    APPROVED = "approved"  # an editor approved it; goes at its send time
    HELD = "held"  # approval required, the send time came without it: goes once approved
    SENDING = "sending"  # recipients fixed; being sent or to be resumed (was 'open')
    SENT = "sent"  # every delivery decided (was 'complete')
    CANCELLED = "cancelled"  # an editor cancelled it: never sent
    SKIPPED = "skipped"  # deliberately not sent (missed by more than max_delay_hours)

    @property
    def steerable(self) -> bool:
        """Its selection, intro and subject may still change: nothing has gone out."""
        return self in (EditionStatus.DRAFT, EditionStatus.APPROVED, EditionStatus.HELD)

    @property
    def finished(self) -> bool:
        return self in (EditionStatus.SENT, EditionStatus.CANCELLED, EditionStatus.SKIPPED)


class DeliveryStatus(StrEnum):
    """pending -> sending -> sent | failed | bounced | deferred; skipped when nothing is new
    (or the reader left, or their send time was missed)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"
    DEFERRED = "deferred"
    SKIPPED = "skipped"


class ResultKind(StrEnum):
    """What a relay's answer to one message means for the send loop."""

    SENT = "sent"
    TRANSIENT = "transient"  # 4xx, timeout, dropped connection: retry
    PERMANENT = "permanent"  # 5xx about this message or this reader: do not retry
    BOUNCE = "bounce"  # 5.1.x: the mailbox does not exist
    # The relay refuses *us* (x.7.x policy, authentication, relaying denied): not a verdict
    # on the reader, who stays pending for the next send.
    REFUSED = "refused"
    # This relay cannot carry this address (a non-ASCII local part without SMTPUTF8).
    UNDELIVERABLE = "undeliverable"


class BounceKind(StrEnum):
    HARD = "hard"
    SOFT = "soft"
    POLICY = "policy"  # x.7.x: the sender's problem, never held against the reader
    COMPLAINT = "complaint"


# Plain strings (click.Choice matches enum members by name, not by value).
SUBSCRIBER_STATUSES = tuple(s.value for s in SubscriberStatus)
SUPPRESSED_STATUSES = frozenset(
    {
        SubscriberStatus.UNSUBSCRIBED,
        SubscriberStatus.BOUNCED,
        SubscriberStatus.COMPLAINED,
        SubscriberStatus.FORGOTTEN,
    }
)
OPERATOR_ONLY_STATUSES = frozenset(
    {SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED, SubscriberStatus.FORGOTTEN}
)
FREQUENCIES = tuple(f.value for f in Frequency)
# The largest row id SQLite can hold (a signed 64-bit integer). An id from outside (a URL,
# a token) beyond it names nothing, and must be answered as "not found", never passed to
# sqlite3 (which raises OverflowError).
MAX_ROW_ID = 2**63 - 1
# Deliveries still to be worked on by a (resumed) send.
OPEN_DELIVERY_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)


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
    # Words in the body when only their count was loaded (a send reads no bodies), else 0:
    # the reading time (docs/email.md rule 28).
    words: int = 0


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str = ""
    status: SubscriberStatus = SubscriberStatus.ACTIVE
    frequency: Frequency = Frequency.WEEKLY
    timezone: str = "UTC"
    categories: tuple[str, ...] = ()  # category names, in the subscriber's order
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    source: str = ""
    language: str = ""  # "" for the site's language ([site] lang)
    delivery_day: str = ""  # mon..sun for a weekly reader; "" for [schedule] weekly_day


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
    frequency: Frequency
    period: str
    starts_at: datetime
    ends_at: datetime
    status: EditionStatus = EditionStatus.SENDING
    created_at: datetime | None = None
    completed_at: datetime | None = None
    note: str = ""
    approval: str = "optional"  # or 'required': only an approved edition is sent
    intro: str = ""  # Markdown, as the editor wrote it
    subject: str = ""  # the editor's subject; '' for the subject template's
    due_at: datetime | None = None  # when the scheduler sends it
    approved_at: datetime | None = None
    approved_by: str = ""
    started_at: datetime | None = None  # when its recipients were fixed and sending began

    @property
    def awaiting_approval(self) -> bool:
        """Approval is required and nobody has given it yet."""
        return self.approval == "required" and self.status in (
            EditionStatus.DRAFT,
            EditionStatus.HELD,
        )


@dataclass(frozen=True)
class Delivery:
    edition_id: int
    subscriber_id: int
    status: DeliveryStatus
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
    smtputf8: bool = False  # needs a relay offering SMTPUTF8 (a non-ASCII local part)


@dataclass(frozen=True)
class Section:
    """One category's block in a digest: newest article first."""

    category: str  # display name
    slug: str
    articles: tuple[Article, ...]
    # New articles in the category, those past max_articles_per_category included (0: just
    # the ones shown). The digest says "5 of 11" and links to the rest.
    total: int = 0
    # The category's id (0 when unknown, as in template samples): click tracking names it.
    category_id: int = 0

    @property
    def more(self) -> int:
        """New articles of this category the digest does not show."""
        return max(0, self.total - len(self.articles))


@dataclass(frozen=True)
class DigestContent:
    """One content variant: everything in a digest that is the same for every recipient who
    gets the same articles. Rendering compiles MJML once per DigestContent."""

    site_name: str
    frequency: Frequency
    starts_at: datetime  # the period the edition covers, for the header
    ends_at: datetime
    sections: tuple[Section, ...]
    edition_id: int | None = None
    # Articles left out to stay under Gmail's clipping limit (filled in by render).
    trimmed: int = 0
    # The readers' language ("" for the site's, [site] lang): part of the variant, so each
    # language compiles once (docs/email.md rule 19).
    language: str = ""
    # The editor's introduction (sanitised HTML and its text rendering) and subject.
    intro_html: str = ""
    intro_text: str = ""
    subject: str = ""
    # Articles an editor pinned: the last to go when trimming for Gmail's clipping limit.
    pinned: frozenset[str] = frozenset()

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
    email: str  # as the envelope carries it: the domain in A-labels (IDNA)
    name: str = ""
    # The local part is not ASCII: only a relay offering SMTPUTF8 can carry it (RFC 6531).
    smtputf8: bool = False


@dataclass(frozen=True)
class BounceRecord:
    """One failure or complaint we learned of, at SMTP time (origin 'smtp') or from an
    imported report (origin: the file)."""

    subscriber_id: int
    edition_id: int | None
    kind: BounceKind
    at: datetime
    status_code: str = ""
    diagnostic: str = ""
    origin: str = ""
    fingerprint: str = ""


@dataclass(frozen=True)
class RecipientRow:
    """A subscriber as the send loop needs them: who, which categories, and since when."""

    subscriber_id: int
    email: str
    name: str
    timezone: str
    category_ids: tuple[int, ...]  # sorted
    last_sent_end: str | None  # cutoff of the last edition delivered to them (UTC text)
    # The delivery's status when resuming; 'pending' for a planned (dry-run) recipient.
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    # The subscriber's status now: one who left since the edition started is not mailed.
    subscriber_status: SubscriberStatus = SubscriberStatus.ACTIVE
    language: str = ""  # "" for the site's language


@dataclass(frozen=True)
class ArticleRow:
    id: str
    url: str
    title: str
    summary: str
    author: str
    image_url: str
    image_alt: str
    published_at: str
    category_id: int
    available_at: str = ""  # when it was both published and imported
    words: int = 0  # about how many words the body has (docs/email.md rule 28)


@dataclass(frozen=True)
class EditionChange:
    """One change an editor made to an edition: who, when, what."""

    at: datetime
    editor: str
    action: str  # prepare, refresh, pin, unpin, exclude, include, intro, subject, approve, ...
    detail: str = ""


@dataclass(frozen=True)
class EditionPick:
    """An editor's pin (leads ``category_id``, in ``position`` order) or exclusion."""

    article_id: str
    action: str  # 'pin' or 'exclude'
    category_id: int = 0
    position: int = 0


@dataclass(frozen=True)
class Editor:
    """Someone who may use the editor's desk. Never carries the password hash."""

    id: int
    email: str
    name: str = ""
    created_at: datetime | None = None
    password_set_at: datetime | None = None
    last_login_at: datetime | None = None

    @property
    def label(self) -> str:
        return self.name or self.email


class UpsertCounts(NamedTuple):
    """What importing a batch of articles did."""

    added: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class ArchivedEdition:
    """An edition as the public archive shows it: no reader in it."""

    id: int
    frequency: str
    period: str
    starts_at: datetime
    ends_at: datetime
    sent_at: datetime  # when its last message went out


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery of an edition as `digest editions show --deliveries` lists it; email is
    '' for a forgotten reader."""

    email: str
    status: DeliveryStatus
    articles: tuple[str, ...]
    attempts: int
    reply: str
    message_id: str


class ApiScope(StrEnum):
    """What an API key may do; each scope includes the ones before it."""

    READ = "read"  # GET anything
    WRITE = "write"  # articles, categories; sign-ups as pending; change, unsubscribe, forget
    IMPORT = "import"  # also add readers as active (the operator vouches for their consent)

    def allows(self, needed: ApiScope) -> bool:
        order = list(ApiScope)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    prefix: str  # the token's public part, to find the row; not a secret
    secret_hash: str  # sha256 hex of the token's secret part
    scope: ApiScope
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


WEBHOOK_EVENTS = (
    "subscribed",
    "confirmed",
    "unsubscribed",
    "bounced",
    "complained",
    "edition.sent",
)


@dataclass(frozen=True)
class Webhook:
    id: int
    url: str
    events: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class WebhookDelivery:
    """One event for one webhook, from the outbox."""

    id: int
    webhook_id: int
    url: str
    secret: str
    delivery_id: str
    event: str
    payload: str  # the JSON body, as it will be posted
    created_at: datetime
    attempts: int
    last_status: int | None
    last_error: str
    delivered_at: datetime | None
    given_up_at: datetime | None
    next_attempt_at: datetime
