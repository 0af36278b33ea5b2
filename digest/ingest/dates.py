"""Dates from sources -> aware UTC datetimes."""

from __future__ import annotations

import calendar
import re
import time
from datetime import UTC, date, datetime
from typing import Any

from digest.errors import InputError

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(value: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 date-time (UTC if no offset) -> aware
    UTC. Raises ValueError with a short reason."""
    text = value.strip()
    try:
        if _DATE_ONLY.match(text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_field_date(value: Any, where: str, name: str) -> datetime:
    """A record's date field; ``where`` and ``name`` place the error (``a.jsonl:7: field
    'published': ...``)."""
    if not isinstance(value, str):
        raise InputError(f"{where}: field {name!r}: not an ISO 8601 date: {value!r}")
    try:
        return parse_date(value)
    except ValueError as e:
        raise InputError(f"{where}: field {name!r}: {e}") from None


def from_struct_time(stamp: time.struct_time) -> datetime:
    """feedparser's parsed dates are UTC struct_times."""
    return datetime.fromtimestamp(calendar.timegm(stamp), UTC)
