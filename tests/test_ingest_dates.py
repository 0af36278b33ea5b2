"""digest.ingest.dates: ISO 8601 dates and date-times to aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.ingest import parse_date


def test_parse_date() -> None:
    assert parse_date("2026-11-28") == datetime(2026, 11, 28, tzinfo=UTC)
    assert parse_date("2026-11-28T09:30:00+01:00") == datetime(2026, 11, 28, 8, 30, tzinfo=UTC)
    assert parse_date("2026-11-28T09:30:00Z") == datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    assert parse_date("2026-11-28 09:30") == datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="not an ISO 8601 date: 'yesterday'"):
        parse_date("yesterday")
