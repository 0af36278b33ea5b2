"""Turning the core's typed results into JSON-ready data, shared by several commands."""

from __future__ import annotations

from datetime import datetime

from digest.models import Subscriber


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
        "created_at": iso(subscriber.created_at),
        "confirmed_at": iso(subscriber.confirmed_at),
        "unsubscribed_at": iso(subscriber.unsubscribed_at),
        "source": subscriber.source,
    }


def iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None
