"""Managing subscribers: validation, adding, CSV import and export, unsubscribe, forget.

The CLI, the web sign-up and the bounce handler all call these functions; none of them
knows about click. Every user mistake raises a DigestError subclass with a one-line message
that names the input.

Import semantics (``import_subscribers_csv``):

- A header row is required; column names are matched case-insensitively. ``email`` is
  required; ``name``, ``categories`` (separated by ``;`` or ``|``), ``frequency``,
  ``timezone`` and ``status`` are optional, and other columns are ignored (so an export with
  extra columns imports cleanly).
- An empty cell means "keep what the subscriber has" for an existing address and "the
  default" for a new one; a new address must list at least one category.
- ``status`` may be empty or ``active`` (subscribe; also confirms a pending subscriber),
  ``pending`` (a new subscriber waits for confirmation), or a suppressed status, in which
  case the row is reported as suppressed and nothing is written for it.
- An address listed more than once: the last valid row wins; the earlier lines are reported
  in ``duplicates``. An address that is already suppressed in the database is never
  reactivated by an import: it is reported in ``suppressed``.
- Good rows are written in one transaction. With ``strict=True`` any rejected row means
  nothing is written.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlite_utils
from email_validator import EmailNotValidError, validate_email

from digest.errors import InputError, NotFoundError
from digest.models import FREQUENCIES, SUBSCRIBER_STATUSES, SUPPRESSED_STATUSES, Subscriber
from digest.store import subscribers as store
from digest.store import transaction
from digest.store.categories import find_category, list_categories, resolve_categories

MAX_NAME_LENGTH = 200
IMPORT_BATCH_SIZE = 5000
EXPORT_COLUMNS = ("email", "name", "categories", "frequency", "timezone", "status")
_CATEGORY_SEPARATORS = re.compile(r"[;|]")
# Unicode categories Cc (C0, DEL, C1), Zl and Zp: anything that could break a header line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# A conservative subset of addresses that email-validator accepts unchanged except for the
# domain's case. Matching it skips email-validator (~25 us a call), which is most of the
# cost of a million-row import; anything else, and every rejection, goes through
# email-validator so the messages are its own. tests/test_subscribers.py checks the two
# agree.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FAST_EMAIL = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL_USE_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def normalise_email(value: str) -> str:
    """The normalised address (domain lower-cased, Unicode NFC; local part as typed), or
    InputError naming the value and email-validator's reason. Syntax only: no DNS."""
    text = value.strip()
    match = _FAST_EMAIL.fullmatch(text)
    if (
        match
        and len(text) <= 254
        and len(match[1]) <= 64
        and "--" not in match[2]  # xn-- and other IDNA oddities: leave them to the library
        and match[2].rsplit(".", 1)[1].lower() not in _SPECIAL_USE_TLDS
    ):
        return f"{match[1]}@{match[2].lower()}"
    try:
        return str(validate_email(text, check_deliverability=False).normalized)
    except EmailNotValidError as e:
        reason = str(e).rstrip(".")
        raise InputError(f"{value!r} is not a valid address ({reason})") from e


def validate_name(value: str) -> str:
    """A display name that is safe in a To: header: trimmed, at most 200 characters, no
    line breaks or other control characters (header injection)."""
    name = value.strip()
    bad = _CONTROL.search(name)
    if bad:
        char = bad[0]
        what = "a line break" if char in "\r\n\u2028\u2029\x85" else "a control character"
        raise InputError(f"{value!r} contains {what} ({char!r})")
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(f"{len(name)} characters is too long (at most {MAX_NAME_LENGTH})")
    return name


_TIMEZONES: frozenset[str] | None = None


def validate_timezone(value: str) -> str:
    """An IANA timezone name such as 'Europe/London', spelled as the tz database does."""
    global _TIMEZONES
    name = value.strip()
    if _TIMEZONES is None:
        _TIMEZONES = frozenset(available_timezones())
    if name in _TIMEZONES:
        return name
    try:
        ZoneInfo(name)  # a zone the system has but available_timezones() did not list
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"{value!r} is not an IANA timezone name (such as 'Europe/London')"
        ) from None
    return name


def validate_frequency(value: str) -> str:
    frequency = value.strip().lower()
    if frequency not in FREQUENCIES:
        raise InputError(f"{value!r} is not {' or '.join(FREQUENCIES)}")
    return frequency


@dataclass(frozen=True)
class AddResult:
    subscriber: Subscriber
    created: bool  # False: the address existed already
    reactivated: bool = False  # it was suppressed and reactivate=True brought it back
    changed: bool = True  # False: an existing subscriber already had exactly these values


def add_subscriber(
    db: sqlite_utils.Database,
    email: str,
    categories: Sequence[str],
    *,
    name: str | None = None,
    frequency: str | None = None,
    timezone: str | None = None,
    now: datetime,
    source: str = "cli",
    reactivate: bool = False,
) -> AddResult:
    """Subscribe an address as active (the operator vouches for consent), or update an
    existing subscriber's categories and whichever of name, frequency and timezone are
    given (None keeps an existing subscriber's value; a new one gets '', weekly, UTC).

    A suppressed address (unsubscribed, bounced, complained, forgotten) is refused unless
    ``reactivate`` is true: people who left must not be re-added by accident.
    """
    address = _field("email", normalise_email, email)
    name = None if name is None else _field("name", validate_name, name)
    frequency = None if frequency is None else _field("frequency", validate_frequency, frequency)
    timezone = None if timezone is None else _field("timezone", validate_timezone, timezone)
    if not categories:
        raise InputError("at least one category is needed")
    category_ids = [c.id for c in resolve_categories(db, list(categories))]
    with transaction(db):
        existing = store.get_subscriber_by_email(db, address)
        if existing is None:
            subscriber_id = store.insert_subscriber(
                db,
                store.NewSubscriber(
                    email=address,
                    name=name or "",
                    frequency=frequency or "weekly",
                    timezone=timezone or "UTC",
                    source=source,
                ),
                now,
            )
            store.set_categories(db, subscriber_id, category_ids)
            created, reactivated, changed = True, False, True
        else:
            if existing.status in SUPPRESSED_STATUSES and not reactivate:
                raise InputError(
                    f"{address} is {existing.status}: not re-subscribed "
                    "(pass reactivate to subscribe it again, with their consent)"
                )
            subscriber_id = existing.id
            profile_changed = (
                existing.email != address
                or name not in (None, existing.name)
                or frequency not in (None, existing.frequency)
                or timezone not in (None, existing.timezone)
                or store.category_ids_for(db, subscriber_id) != category_ids
            )
            store.update_subscriber(
                db,
                subscriber_id,
                email=address,
                name=name,
                frequency=frequency,
                timezone=timezone,
            )
            store.set_categories(db, subscriber_id, category_ids)
            reactivated = existing.status in SUPPRESSED_STATUSES
            status_changed = store.set_status(
                db, subscriber_id, "active", now, source, "reactivated" if reactivated else ""
            )
            if profile_changed:
                store.record_event(db, subscriber_id, "updated", now, source)
            created, changed = False, profile_changed or status_changed
        subscriber = store.get_subscriber(db, subscriber_id)
    assert subscriber is not None  # written just above, in this transaction
    return AddResult(
        subscriber=subscriber, created=created, reactivated=reactivated, changed=changed
    )


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


def import_subscribers_csv(
    db: sqlite_utils.Database,
    path: str | Path,
    *,
    now: datetime,
    strict: bool = False,
    source: str = "import",
) -> ImportResult:
    """Import subscribers from a UTF-8 CSV file (see the module docstring for the rules).
    Streams the file: memory stays flat and a million rows take well under a minute."""
    path = Path(path)
    rejected: list[tuple[int, str]] = []
    suppressed: list[tuple[int, str]] = []
    store.begin_import(db)
    try:
        batch: list[store.StagedRow] = []
        for item in _parse_csv(db, path):
            if isinstance(item, store.StagedRow):
                batch.append(item)
                if len(batch) >= IMPORT_BATCH_SIZE:
                    store.stage_rows(db, batch)
                    batch.clear()
            elif isinstance(item, _Suppressed):
                suppressed.append((item.line, item.email))
            else:
                rejected.append((item.line, item.reason))
        store.stage_rows(db, batch)
        with transaction(db):
            plan = store.plan_import(db)
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
            counts = store.apply_import(db, now, source)
    finally:
        store.end_import(db)
    return ImportResult(
        added=counts.added,
        updated=counts.updated,
        unchanged=counts.unchanged,
        rejected=tuple(rejected),
        suppressed=all_suppressed,
        duplicates=plan.duplicates,
    )


@dataclass(frozen=True)
class _Rejected:
    line: int
    reason: str


@dataclass(frozen=True)
class _Suppressed:  # the row's status column says the address must not be subscribed
    line: int
    email: str


_Parsed = store.StagedRow | _Rejected | _Suppressed


def _parse_csv(db: sqlite_utils.Database, path: Path) -> Iterator[_Parsed]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read file: {e.strerror or e}") from e
    with handle:
        try:
            yield from _parse_rows(db, path, handle)
        except UnicodeDecodeError as e:
            raise InputError(
                f"{path}: not UTF-8 text (byte {e.start}); save the file as UTF-8 CSV"
            ) from e
        except csv.Error as e:
            raise InputError(f"{path}: not valid CSV: {e}") from e


def _parse_rows(db: sqlite_utils.Database, path: Path, handle: IO[str]) -> Iterator[_Parsed]:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise InputError(f"{path}: empty file (expected a header row with an 'email' column)")
    columns = {cell.strip().lower(): i for i, cell in reversed(list(enumerate(header)))}
    if "email" not in columns:
        raise InputError(
            f"{path}: no 'email' column in the header "
            f"(found: {', '.join(cell.strip() for cell in header)})"
        )
    lookup = _CategoryLookup(db)
    # line_num is the physical line the row *ends* on; the row starts one after the
    # previous row ended, which is right even when a quoted field spans several lines.
    end_of_previous = reader.line_num
    for cells in reader:
        line = end_of_previous + 1
        end_of_previous = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        try:
            yield _parse_row(cells, columns, lookup, line)
        except InputError as e:
            yield _Rejected(line, e.message)


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str | None:
    index = columns.get(name)
    if index is None or index >= len(cells):
        return None
    value = cells[index].strip()
    return value or None


def _parse_row(
    cells: list[str], columns: dict[str, int], lookup: _CategoryLookup, line: int
) -> _Parsed:
    raw_email = _cell(cells, columns, "email")
    if raw_email is None:
        raise InputError("email: missing")
    email = _field("email", normalise_email, raw_email)
    status = (_cell(cells, columns, "status") or "active").lower()
    if status in SUPPRESSED_STATUSES:
        return _Suppressed(line, email)
    if status not in ("active", "pending"):
        raise InputError(f"status: {status!r} is not one of {', '.join(SUBSCRIBER_STATUSES)}")
    name = _cell(cells, columns, "name")
    frequency = _cell(cells, columns, "frequency")
    timezone = _cell(cells, columns, "timezone")
    categories = _cell(cells, columns, "categories")
    return store.StagedRow(
        line=line,
        email=email,
        name=None if name is None else _field("name", validate_name, name),
        frequency=None if frequency is None else _field("frequency", validate_frequency, frequency),
        timezone=None if timezone is None else _field("timezone", validate_timezone, timezone),
        category_ids=None if categories is None else lookup.ids(categories),
        status=status,
    )


def _field(label: str, check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except InputError as e:
        raise InputError(f"{label}: {e.message}") from e


class _CategoryLookup:
    """Category names to ids, cached: a million rows name the same handful of categories."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db
        self._cache: dict[str, int | None] = {}

    def ids(self, cell: str) -> tuple[int, ...]:
        ids: list[int] = []
        for part in _CATEGORY_SEPARATORS.split(cell):
            name = part.strip()
            if not name:
                continue
            key = name.lower()
            if key not in self._cache:
                category = find_category(self._db, name)
                self._cache[key] = category.id if category else None
            category_id = self._cache[key]
            if category_id is None:
                known = ", ".join(c.name for c in list_categories(self._db)) or "none yet"
                raise InputError(f"categories: unknown category {name!r} (known: {known})")
            if category_id not in ids:
                ids.append(category_id)
        if not ids:
            raise InputError("categories: no category names in the cell")
        return tuple(ids)


def export_subscribers(
    db: sqlite_utils.Database,
    out: IO[str],
    fmt: str = "csv",
    *,
    category: str | None = None,
    status: str | None = None,
) -> int:
    """Write subscribers (forgotten ones excluded: they have no address) as CSV or JSON that
    :func:`import_subscribers_csv` reads back unchanged; return how many were written.
    Suppressed subscribers are included with their status so the export is a full backup;
    importing them never re-subscribes them."""
    if fmt not in ("csv", "json"):
        raise InputError(f"export format must be csv or json, not {fmt!r}")
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        for subscriber in list_subscribers(db, category=category, status=status):
            if subscriber.status == "forgotten":
                continue
            writer.writerow(_export_row(subscriber).values())
            count += 1
        return count
    # JSON is streamed as an array, one object a line, so a million rows need no memory.
    out.write("[")
    for subscriber in list_subscribers(db, category=category, status=status):
        if subscriber.status == "forgotten":
            continue
        out.write(",\n" if count else "\n")
        out.write(json.dumps(_export_row(subscriber), ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def _export_row(subscriber: Subscriber) -> dict[str, str]:
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "categories": ";".join(subscriber.categories),
        "frequency": subscriber.frequency,
        "timezone": subscriber.timezone,
        "status": subscriber.status,
    }


def subscriber_dict(subscriber: Subscriber) -> dict[str, object]:
    """A subscriber as JSON-ready data (for `list --json` and `show --json`)."""
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "name": subscriber.name,
        "status": subscriber.status,
        "frequency": subscriber.frequency,
        "timezone": subscriber.timezone,
        "categories": list(subscriber.categories),
        "created_at": _iso(subscriber.created_at),
        "confirmed_at": _iso(subscriber.confirmed_at),
        "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        "source": subscriber.source,
    }


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def list_subscribers(
    db: sqlite_utils.Database, *, category: str | None = None, status: str | None = None
) -> Iterator[Subscriber]:
    """Stream subscribers in id order, optionally one category (name or slug, any case)
    and/or one status."""
    category_id = None
    if category is not None:
        category_id = resolve_categories(db, [category])[0].id
    if status is not None and status not in SUBSCRIBER_STATUSES:
        raise InputError(f"status must be one of {', '.join(SUBSCRIBER_STATUSES)}, not {status!r}")
    return store.iter_subscribers(db, category_id=category_id, status=status)


def get_subscriber(db: sqlite_utils.Database, email: str) -> Subscriber:
    """The subscriber with this address (any case), or NotFoundError."""
    address = normalise_email(email)
    subscriber = store.get_subscriber_by_email(db, address)
    if subscriber is None:
        raise NotFoundError(f"no subscriber {address}")
    return subscriber


def unsubscribe(db: sqlite_utils.Database, email: str, now: datetime, source: str = "cli") -> bool:
    """Unsubscribe the address at once; False when it was already suppressed (nothing
    changes: a bounced or forgotten address stays as it is)."""
    with transaction(db):
        subscriber = get_subscriber(db, email)
        if subscriber.status in SUPPRESSED_STATUSES:
            return False
        return store.set_status(db, subscriber.id, "unsubscribed", now, source)


def forget(db: sqlite_utils.Database, email: str, now: datetime, source: str = "cli") -> None:
    """Erase the subscriber's personal data; the address stays suppressed by its hash."""
    with transaction(db):
        subscriber = get_subscriber(db, email)
        if subscriber.status == "forgotten":
            return
        store.forget(db, subscriber.id, now, source)
