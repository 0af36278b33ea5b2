"""Time helpers. The clock is passed in as a ``Clock`` (a callable returning an aware UTC
datetime) so tests can freeze it; ``system_clock`` is the real one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def to_db(dt: datetime) -> str:
    """UTC, second precision, fixed width: sorts and compares correctly as text in SQL."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_db(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
