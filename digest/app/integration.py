"""Use cases behind the HTTP API (digest.web.api): its keys and their rate limit, pages of
articles, and readers addressed by id rather than by address. Everything a reader-facing
rule decides (double opt-in, suppression) goes through the same methods as the pages and
the CLI: :meth:`Signup.sign_up` and :meth:`Audience.add_subscriber`.

Keys: a token is ``dg_<prefix>_<secret>``, 256 random bits of secret. Only the sha256 of the
secret is stored (a keyed hash buys nothing for a secret that cannot be guessed); the random
prefix finds the row and the hashes are compared with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from digest.app.audience import Audience
from digest.app.choices import ReaderChoices
from digest.app.signup import Choices, MailJob, keyed_hash
from digest.errors import InputError, NotFoundError
from digest.models import ApiKey, ApiScope, Article, Subscriber, SubscriberStatus
from digest.store import api as api_store
from digest.store import subscribers as store
from digest.store import web as web_store
from digest.store.categories import find_category, resolve_categories
from digest.validate import (
    checked,
    validate_delivery_day,
    validate_frequency,
    validate_name,
    validate_timezone,
)

TOKEN_PREFIX = "dg_"
API_SOURCE = "api"
RATE_WINDOW = timedelta(minutes=1)
T = TypeVar("T")


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    token: str  # shown once, never stored


@dataclass(frozen=True)
class ReaderChange:
    """What an API client may change of a reader; None keeps the current value."""

    name: str | None = None
    categories: tuple[str, ...] | None = None
    frequency: str | None = None
    timezone: str | None = None
    delivery_day: str | None = None  # mon..sun, "" for the site's weekly day


class Integration(ReaderChoices, Audience):
    # -- keys --------------------------------------------------------------------------------

    def add_api_key(self, name: str, scope: str) -> NewKey:
        clean = name.strip()
        if not clean or len(clean) > 100 or any(not c.isprintable() for c in clean):
            raise InputError(f"API key name {name!r}: 1 to 100 printable characters")
        if scope not in tuple(ApiScope):
            raise InputError(f"scope must be one of {', '.join(ApiScope)}, not {scope!r}")
        prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self.store.transaction() as db:
            api_store.insert_key(db, clean, prefix, _hash(secret), ApiScope(scope), self.now())
            key = api_store.key_by_prefix(db, prefix)
        assert key is not None  # inserted just above
        return NewKey(key, f"{TOKEN_PREFIX}{prefix}_{secret}")

    def api_keys(self) -> list[ApiKey]:
        return api_store.list_keys(self.db)

    def revoke_api_key(self, name: str) -> None:
        with self.store.transaction() as db:
            if not api_store.revoke_key(db, name.strip(), self.now()):
                raise NotFoundError(f"no live API key named {name!r} (see `digest keys list`)")

    def api_key_for(self, token: str) -> ApiKey | None:
        """The live key ``token`` is, or None (unknown, malformed or revoked alike)."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        prefix, _, secret = token[len(TOKEN_PREFIX) :].partition("_")
        key = api_store.key_by_prefix(self.db, prefix) if prefix and secret else None
        if key is None or key.revoked_at is not None:
            return None
        if not hmac.compare_digest(key.secret_hash, _hash(secret)):
            return None
        return key

    def take_api_slot(self, key: ApiKey) -> int | None:
        """Count one request of ``key`` against web.api_rate_limit_per_minute, in the
        database like the sign-up limits (so every `digest serve` process shares it). None:
        allowed; otherwise the seconds until the oldest counted request leaves the window."""
        limit = self.settings.web.api_rate_limit_per_minute
        now = self.now()
        bucket = keyed_hash(self.settings.secret_key, "api", str(key.id))
        with self.store.transaction() as db:
            web_store.prune_hits(db, now - timedelta(days=1))
            since = now - RATE_WINDOW
            if web_store.count_hits(db, bucket, since) >= limit:
                oldest = api_store.oldest_hit(db, bucket, since) or now
                return max(1, int((oldest + RATE_WINDOW - now).total_seconds() + 0.999))
            web_store.add_hit(db, bucket, now)
            api_store.touch_key(db, key.id, now)
        return None

    # -- articles ----------------------------------------------------------------------------

    def article_page(
        self, *, limit: int, after: tuple[datetime, str] | None, category: str | None
    ) -> list[Article]:
        category_id = None
        if category is not None:
            found = find_category(self.db, category)
            if found is None:
                raise InputError(f"category {category!r}: no such category")
            category_id = found.id
        return api_store.article_page(self.db, limit=limit, after=after, category_id=category_id)

    # -- readers -----------------------------------------------------------------------------

    def api_sign_up(
        self,
        email: str,
        categories: Sequence[str],
        *,
        name: str = "",
        frequency: str = "weekly",
        timezone: str | None = None,
        delivery_day: str | None = None,
    ) -> tuple[MailJob, Subscriber | None]:
        """A sign-up on the reader's behalf: the same rules and the same confirmation email
        as the web form (:meth:`Signup.sign_up`). Returns the mail to send and the reader.
        The timezone travels with the sign-up request and is applied when its owner
        confirms, like the other choices."""
        address = checked("email", self.usable_address, email)
        choices = dataclasses.replace(
            self._choices(name, categories, frequency), delivery_day=delivery_day
        )
        job = self.sign_up_in_zone(address, choices, API_SOURCE, timezone)
        return job, store.get_subscriber_by_email(self.db, address)

    def _choices(self, name: str, categories: Sequence[str], frequency: str) -> Choices:
        if not categories:
            raise InputError("categories: at least one category is needed")
        found = _known(lambda: resolve_categories(self.db, list(categories)))
        return Choices(
            name=checked("name", validate_name, name),
            category_ids=tuple(c.id for c in found),
            category_names=tuple(c.name for c in found),
            frequency=checked("frequency", validate_frequency, frequency),
        )

    def reader_by_id(self, subscriber_id: int) -> Subscriber:
        subscriber = store.get_subscriber(self.db, subscriber_id)
        if subscriber is None:
            raise NotFoundError(f"no subscriber with id {subscriber_id}")
        return subscriber

    def change_reader(self, subscriber_id: int, change: ReaderChange) -> Subscriber:
        """Change a pending or active reader's choices in one transaction (a suppressed one
        is refused: they left, and their record says so)."""
        name = None if change.name is None else checked("name", validate_name, change.name)
        freq = (
            None
            if change.frequency is None
            else checked("frequency", validate_frequency, change.frequency)
        )
        zone = (
            None
            if change.timezone is None
            else checked("timezone", validate_timezone, change.timezone)
        )
        day = (
            None
            if change.delivery_day is None
            else checked("delivery_day", validate_delivery_day, change.delivery_day)
        )
        category_ids = None
        if change.categories is not None:
            if not change.categories:
                raise InputError("categories: at least one category is needed")
            found = _known(lambda: resolve_categories(self.db, list(change.categories or ())))
            category_ids = [c.id for c in found]
        with self.store.transaction() as db:
            subscriber = self.reader_by_id(subscriber_id)
            if subscriber.status.suppressed:
                raise InputError(
                    f"subscriber {subscriber_id} is {subscriber.status}: nothing can be changed"
                )
            store.update_subscriber(
                db, subscriber_id, name=name, frequency=freq, timezone=zone, delivery_day=day
            )
            if category_ids is not None:
                store.set_categories(db, subscriber_id, category_ids)
            store.record_event(db, subscriber_id, "updated", self.now(), API_SOURCE)
        return self.reader_by_id(subscriber_id)

    def unsubscribe_by_id(self, subscriber_id: int) -> Subscriber:
        self.reader_by_id(subscriber_id)
        self.unsubscribe_reader(subscriber_id, API_SOURCE)
        return self.reader_by_id(subscriber_id)

    def forget_by_id(self, subscriber_id: int) -> None:
        with self.store.transaction() as db:
            subscriber = self.reader_by_id(subscriber_id)
            if subscriber.status != SubscriberStatus.FORGOTTEN:
                store.forget(db, subscriber_id, self.now(), API_SOURCE)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _known(lookup: Callable[[], T]) -> T:
    """An unknown category in a request body is bad input (422), not a missing resource."""
    try:
        return lookup()
    except NotFoundError as e:
        raise InputError(str(e)) from e
