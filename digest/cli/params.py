"""Option callbacks shared by several commands."""

from __future__ import annotations

from datetime import datetime

import click

from digest.ingest import parse_date


def parse_date_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> datetime | None:
    """Option callback: YYYY-MM-DD (midnight UTC) or an ISO 8601 date-time -> aware UTC.
    A callback rather than a ParamType subclass, which is generic only in newer click."""
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError as e:
        raise click.BadParameter(
            f"{e} (expected YYYY-MM-DD or e.g. 2026-11-28T09:30:00Z)", ctx, param
        ) from None
