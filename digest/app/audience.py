"""Use cases for the operator's list of readers: add, import, export, list, show, unsubscribe,
forget. The rules for an import are in :mod:`digest.app.csv_rows`; every change is one
transaction, and every status change is an event in the reader's history.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import sqlite_utils

from digest.app.base import AppBase
from digest.app.csv_rows import CategoryIds, Rejected, Suppressed, count_lines, parse_csv
from digest.errors import InputError, NotFoundError
from digest.models import (
    SUBSCRIBER_STATUSES,
    Event,
    Frequency,
    Subscriber,
    SubscriberStatus,
)
from digest.progress import NO_PROGRESS, Progress, counted
from digest.store import subscriber_import as bulk
from digest.store import subscribers as store
from digest.store.categories import find_category, list_categories, resolve_categories
from digest.validate import (
    checked,
    normalise_email,
    validate_delivery_day,
    validate_frequency,
    validate_name,
    validate_timezone,
)

IMPORT_BATCH_SIZE = 5000
EXPORT_COLUMNS = (
    "email",
    "name",
    "categories",
    "frequency",
    "timezone",
    "status",
    "language",
    "delivery_day",
)


@dataclass(frozen=True)
class AddResult:
    subscriber: Subscriber
    created: bool  # False: the address existed already
    reactivated: bool = False  # it was suppressed and reactivate=True brought it back
    changed: bool = True  # False: an existing subscriber already had exactly these values


@dataclass(frozen=True)
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: tuple[tuple[int, str], ...] = ()  # (line number, reason)
    suppressed: tuple[tuple[int, str], ...] = ()  # (line number, address)
    duplicates: tuple[tuple[int, int], ...] = ()  # (superseded line, line that won)
    written: bool = True  # False when strict mode refused the file

    @property
    def summary(self) -> str:
        return (
            f"Added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"rejected {len(self.rejected)}, suppressed {len(self.suppressed)}."
        )


@dataclass(frozen=True)
class ReaderHistory:
    subscriber: Subscriber
    events: tuple[Event, ...]


class Audience(AppBase):
    def add_subscriber(
        self,
        email: str,
        categories: Sequence[str],
        *,
        name: str | None = None,
        frequency: str | None = None,
        timezone: str | None = None,
        source: str = "cli",
        reactivate: bool = False,
        delivery_day: str | None = None,
    ) -> AddResult:
        """Subscribe an address as active (the operator vouches for consent), or update an
        existing subscriber's categories and whichever of name, frequency and timezone are
        given (None keeps an existing subscriber's value; a new one gets '', weekly, UTC).

        A suppressed address (unsubscribed, bounced, complained, forgotten) is refused unless
        ``reactivate`` is true: people who left must not be re-added by accident."""
        address = checked("email", self.usable_address, email)
        name = None if name is None else checked("name", validate_name, name)
        freq = None if frequency is None else checked("frequency", validate_frequency, frequency)
        timezone = None if timezone is None else checked("timezone", validate_timezone, timezone)
        day = (
            None
            if delivery_day is None
            else checked("delivery_day", validate_delivery_day, delivery_day)
        )
        if not categories:
            raise InputError("at least one category is needed")
        category_ids = [c.id for c in resolve_categories(self.db, list(categories))]
        now = self.now()
        with self.store.transaction() as db:
            existing = store.get_subscriber_by_email(db, address)
            if existing is None:
                subscriber_id = store.insert_subscriber(
                    db,
                    store.NewSubscriber(
                        email=address,
                        name=name or "",
                        frequency=freq or Frequency.WEEKLY,
                        timezone=timezone or "UTC",
                        source=source,
                    ),
                    now,
                )
                store.set_categories(db, subscriber_id, category_ids)
                store.update_subscriber(db, subscriber_id, delivery_day=day)
                created, reactivated, changed = True, False, True
            else:
                if existing.status.suppressed and not reactivate:
                    raise InputError(
                        f"{address} is {existing.status}: not re-subscribed "
                        "(pass reactivate to subscribe it again, with their consent)"
                    )
                subscriber_id = existing.id
                profile_changed = (
                    existing.email != address
                    or name not in (None, existing.name)
                    or freq not in (None, existing.frequency)
                    or timezone not in (None, existing.timezone)
                    or day not in (None, existing.delivery_day)
                    or store.category_ids_for(db, subscriber_id) != category_ids
                )
                store.update_subscriber(
                    db,
                    subscriber_id,
                    email=address,
                    name=name,
                    frequency=freq,
                    timezone=timezone,
                    delivery_day=day,
                )
                store.set_categories(db, subscriber_id, category_ids)
                reactivated = existing.status.suppressed
                status_changed = store.set_status(
                    db,
                    subscriber_id,
                    SubscriberStatus.ACTIVE,
                    now,
                    source,
                    "reactivated" if reactivated else "",
                )
                if profile_changed:
                    store.record_event(db, subscriber_id, "updated", now, source)
                created, changed = False, profile_changed or status_changed
            subscriber = store.get_subscriber(db, subscriber_id)
        assert subscriber is not None  # written just above, in this transaction
        return AddResult(subscriber, created=created, reactivated=reactivated, changed=changed)

    def import_subscribers(
        self,
        path: str | Path,
        *,
        strict: bool = False,
        source: str = "import",
        progress: Progress = NO_PROGRESS,
    ) -> ImportResult:
        """Import subscribers from a UTF-8 CSV file (rules: :mod:`digest.app.csv_rows`).
        Streams the file into a staging table, then applies it in one transaction: memory
        stays flat and a million rows take well under a minute. An address listed more than
        once: the last valid row wins. A suppressed address is never reactivated. With
        ``strict`` any rejected row means nothing is written. ``progress`` follows the
        file's lines (counted up front, which is cheap), then the saving."""
        db = self.db
        lookup = CategoryIds(
            lambda name: _category_id(self, name),
            lambda: [c.name for c in list_categories(db)],
            self.usable_address,
        )
        bulk.begin_import(db)
        try:
            staged = _stage_file(db, Path(path), lookup, progress)
            rejected, suppressed = staged.rejected, staged.suppressed
            # One transaction: the count moves only when it is over.
            progress.start(staged.rows, "Saving")
            with self.store.transaction():
                plan = bulk.plan_import(db)
                rejected.extend(
                    (line, "categories: a new subscriber needs at least one category")
                    for line, _ in plan.missing_categories
                )
                rejected.sort()
                all_suppressed = tuple(sorted([*suppressed, *plan.suppressed]))
                if strict and rejected:
                    return ImportResult(
                        rejected=tuple(rejected),
                        suppressed=all_suppressed,
                        duplicates=plan.duplicates,
                        written=False,
                    )
                counts = bulk.apply_import(db, self.now(), source)
            progress.advance(staged.rows)
        finally:
            progress.done()
            bulk.end_import(db)
        return ImportResult(
            added=counts.added,
            updated=counts.updated,
            unchanged=counts.unchanged,
            rejected=tuple(rejected),
            suppressed=all_suppressed,
            duplicates=plan.duplicates,
        )

    def export_subscribers(
        self,
        out: IO[str],
        fmt: str = "csv",
        *,
        category: str | None = None,
        status: str | None = None,
        progress: Progress = NO_PROGRESS,
    ) -> int:
        """Write subscribers (forgotten ones excluded: they have no address) as CSV or JSON
        that :meth:`import_subscribers` reads back unchanged; return how many. Suppressed
        subscribers are included with their status so the export is a full backup;
        importing them never re-subscribes them. JSON is streamed one object a line."""
        if fmt not in ("csv", "json"):
            raise InputError(f"export format must be csv or json, not {fmt!r}")
        category_id = _category_filter(self, category)
        progress.start(
            store.count_subscribers(self.db, category_id=category_id, status=status), "Exporting"
        )
        rows = (
            _export_row(s)
            for s in counted(self.list_subscribers(category=category, status=status), progress)
            if s.status != SubscriberStatus.FORGOTTEN
        )
        try:
            return _write_export(out, fmt, rows)
        finally:
            progress.done()

    def list_subscribers(
        self, *, category: str | None = None, status: str | None = None
    ) -> Iterator[Subscriber]:
        """Stream subscribers in id order, optionally one category (name or slug, any case)
        and/or one status."""
        category_id = _category_filter(self, category)
        if status is not None and status not in SUBSCRIBER_STATUSES:
            raise InputError(
                f"status must be one of {', '.join(SUBSCRIBER_STATUSES)}, not {status!r}"
            )
        return store.iter_subscribers(self.db, category_id=category_id, status=status)

    def find_subscriber(self, email: str) -> Subscriber:
        """The subscriber with this address (any case), or NotFoundError."""
        address = normalise_email(email)
        subscriber = store.get_subscriber_by_email(self.db, address)
        if subscriber is None:
            raise NotFoundError(f"no subscriber {address}")
        return subscriber

    def reader_history(self, email: str) -> ReaderHistory:
        subscriber = self.find_subscriber(email)
        return ReaderHistory(subscriber, tuple(store.events_for(self.db, subscriber.id)))

    def unsubscribe(self, email: str, source: str = "cli") -> bool:
        """Unsubscribe the address at once; False when it was already suppressed (nothing
        changes: a bounced or forgotten address stays as it is)."""
        with self.store.transaction() as db:
            subscriber = self.find_subscriber(email)
            if subscriber.status.suppressed:
                return False
            return store.set_status(
                db, subscriber.id, SubscriberStatus.UNSUBSCRIBED, self.now(), source
            )

    def forget(self, email: str, source: str = "cli") -> None:
        """Erase the subscriber's personal data; the address stays suppressed by its hash."""
        with self.store.transaction() as db:
            subscriber = self.find_subscriber(email)
            if subscriber.status == SubscriberStatus.FORGOTTEN:
                return
            store.forget(db, subscriber.id, self.now(), source)


@dataclass
class _Staged:
    rows: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    suppressed: list[tuple[int, str]] = field(default_factory=list)  # (line, address)


def _stage_file(
    db: sqlite_utils.Database, path: Path, lookup: CategoryIds, progress: Progress
) -> _Staged:
    """Parse the file into the staging table, in batches; progress counts physical lines
    (a quoted cell may span several)."""
    staged = _Staged()
    batch: list[bulk.StagedRow] = []
    total, seen = max(count_lines(path) - 1, 0), 1  # the header is line 1
    progress.start(total, "Reading")
    for item in parse_csv(path, lookup):
        progress.advance(item.line - seen)
        seen = item.line
        if isinstance(item, Rejected):
            staged.rejected.append((item.line, item.reason))
        elif isinstance(item, Suppressed):
            staged.suppressed.append((item.line, item.email))
        else:
            batch.append(item)
            staged.rows += 1
            if len(batch) >= IMPORT_BATCH_SIZE:
                bulk.stage_rows(db, batch)
                batch.clear()
    bulk.stage_rows(db, batch)
    progress.advance(total + 1 - seen)  # blank lines at the end
    return staged


def _write_export(out: IO[str], fmt: str, rows: Iterator[dict[str, str]]) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow(row.values())
            count += 1
        return count
    out.write("[")
    for row in rows:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(row, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def _category_filter(app: AppBase, category: str | None) -> int | None:
    """The id of ``category`` (name or slug, any case; an error when unknown), or None."""
    if category is None:
        return None
    return resolve_categories(app.db, [category])[0].id


def _category_id(app: AppBase, name: str) -> int | None:
    category = find_category(app.db, name)
    return category.id if category else None


def _export_row(subscriber: Subscriber) -> dict[str, str]:
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "categories": ";".join(subscriber.categories),
        "frequency": subscriber.frequency,
        "timezone": subscriber.timezone,
        "status": subscriber.status,
        "language": subscriber.language,
        "delivery_day": subscriber.delivery_day,
    }
