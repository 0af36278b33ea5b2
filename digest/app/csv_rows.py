"""Reading a subscribers CSV: rows in, staged rows or per-line rejections out.

The rules (the CLI's `digest subscribers import --help` says the same):

- A header row is required; column names are matched case-insensitively. ``email`` is
  required; ``name``, ``categories`` (separated by ``;`` or ``|``), ``frequency``,
  ``timezone``, ``status``, ``language`` (a tag such as ``es``) and ``delivery_day`` (a
  weekly reader's day, ``mon`` .. ``sun``; empty for the site's) are optional, and other
  columns are ignored (so an export with extra columns imports cleanly).
- An empty cell means "keep what the subscriber has" for an existing address and "the
  default" for a new one; a new address must list at least one category.
- ``status`` may be empty or ``active`` (subscribe; also confirms a pending subscriber),
  ``pending`` (a new subscriber waits for confirmation), or a suppressed status, in which
  case the row is reported as suppressed and nothing is written for it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from digest.errors import InputError
from digest.files import open_regular, read_error
from digest.models import SUBSCRIBER_STATUSES, SUPPRESSED_STATUSES
from digest.store.subscriber_import import StagedRow
from digest.validate import (
    checked,
    normalise_email,
    validate_delivery_day,
    validate_frequency,
    validate_language,
    validate_name,
    validate_timezone,
)

_CATEGORY_SEPARATORS = re.compile(r"[;|]")

# Category name (any case) -> id, or None when there is no such category.
CategoryLookup = Callable[[str], int | None]
# The known category names, for the error message.
KnownCategories = Callable[[], list[str]]


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


@dataclass(frozen=True)
class Suppressed:  # the row's status column says the address must not be subscribed
    line: int
    email: str


Parsed = StagedRow | Rejected | Suppressed


def parse_csv(path: Path, lookup: CategoryIds) -> Iterator[Parsed]:
    """Every non-blank row of the file at ``path``, parsed."""
    # A regular file only: a FIFO or a device would block or never end (digest/files.py).
    with open_regular(path) as raw:
        handle = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            yield from _parse_rows(lookup, path, handle)
        except UnicodeDecodeError as e:
            raise InputError(
                f"{path}: not UTF-8 text (byte {e.start}); save the file as UTF-8 CSV"
            ) from e
        except csv.Error as e:
            raise InputError(f"{path}: not valid CSV: {e}") from e
        except OSError as e:
            raise read_error(path, e) from e
        finally:
            handle.detach()


def count_lines(path: Path) -> int:
    """Physical lines in the file (a last line without a newline counts): a progress total
    counted at disk speed, a fraction of a second for a million rows."""
    lines, last = 0, b"\n"
    with open_regular(path) as raw:
        try:
            while chunk := raw.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        except OSError as e:
            raise read_error(path, e) from e
    return lines + (last != b"\n")


def _parse_rows(lookup: CategoryIds, path: Path, handle: IO[str]) -> Iterator[Parsed]:
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
            yield Rejected(line, e.message)


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str | None:
    index = columns.get(name)
    if index is None or index >= len(cells):
        return None
    value = cells[index].strip()
    return value or None


def _parse_row(cells: list[str], columns: dict[str, int], lookup: CategoryIds, line: int) -> Parsed:
    raw_email = _cell(cells, columns, "email")
    if raw_email is None:
        raise InputError("email: missing")
    email = checked("email", lookup.address, raw_email)
    status = (_cell(cells, columns, "status") or "active").lower()
    if status in SUPPRESSED_STATUSES:
        return Suppressed(line, email)
    if status not in ("active", "pending"):
        raise InputError(f"status: {status!r} is not one of {', '.join(SUBSCRIBER_STATUSES)}")
    name = _cell(cells, columns, "name")
    frequency = _cell(cells, columns, "frequency")
    timezone = _cell(cells, columns, "timezone")
    language = _cell(cells, columns, "language")
    day = _cell(cells, columns, "delivery_day")
    categories = _cell(cells, columns, "categories")
    return StagedRow(
        line=line,
        email=email,
        name=None if name is None else checked("name", validate_name, name),
        frequency=None
        if frequency is None
        else checked("frequency", validate_frequency, frequency),
        timezone=None if timezone is None else checked("timezone", validate_timezone, timezone),
        category_ids=None if categories is None else lookup.ids(categories),
        status=status,
        language=None if language is None else checked("language", validate_language, language),
        delivery_day=None if day is None else checked("delivery_day", validate_delivery_day, day),
    )


class CategoryIds:
    """Category names to ids, cached: a million rows name the same handful of categories."""

    def __init__(
        self,
        find: CategoryLookup,
        known: KnownCategories,
        address: Callable[[str], str] = normalise_email,
    ) -> None:
        self._find = find
        self._known = known
        # The core's check of an address (normalised, and one the relay can carry).
        self.address = address
        self._cache: dict[str, int | None] = {}

    def ids(self, cell: str) -> tuple[int, ...]:
        ids: list[int] = []
        for part in _CATEGORY_SEPARATORS.split(cell):
            name = part.strip()
            if not name:
                continue
            key = name.lower()
            if key not in self._cache:
                self._cache[key] = self._find(name)
            category_id = self._cache[key]
            if category_id is None:
                known = ", ".join(self._known()) or "none yet"
                raise InputError(f"categories: unknown category {name!r} (known: {known})")
            if category_id not in ids:
                ids.append(category_id)
        if not ids:
            raise InputError("categories: no category names in the cell")
        return tuple(ids)
