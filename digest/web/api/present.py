"""What the API shows of each value: plain JSON, times as RFC 3339 UTC strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from digest.app import EditionDetail, EditionSummary
from digest.models import Article, Category, Subscriber


def when(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def article(value: Article) -> dict[str, Any]:
    return {
        "id": value.id,
        "url": value.url,
        "title": value.title,
        "summary": value.summary,
        "author": value.author,
        "image": value.image_url,
        "published": when(value.published_at),
        "categories": list(value.categories),
    }


def category(value: Category) -> dict[str, Any]:
    return {
        "id": value.id,
        "slug": value.slug,
        "name": value.name,
        "description": value.description,
    }


def subscriber(value: Subscriber) -> dict[str, Any]:
    return {
        "id": value.id,
        "email": value.email or None,
        "name": value.name,
        "status": str(value.status),
        "frequency": str(value.frequency),
        "timezone": value.timezone,
        "delivery_day": value.delivery_day,
        "categories": list(value.categories),
        "created": when(value.created_at),
        "confirmed": when(value.confirmed_at),
        "unsubscribed": when(value.unsubscribed_at),
    }


def edition(value: EditionSummary) -> dict[str, Any]:
    e = value.edition
    shown: dict[str, Any] = {
        "id": e.id,
        "frequency": str(e.frequency),
        "period": e.period,
        "status": str(e.status),
        "starts": when(e.starts_at),
        "ends": when(e.ends_at),
        "created": when(e.created_at),
        "completed": when(e.completed_at),
        "deliveries": dict(value.counts),
    }
    if isinstance(value, EditionDetail):
        shown["bounces"] = dict(value.bounces)
    return shown
