"""/api/v1/articles, /categories and /editions: what the digests carry and what was sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request

from digest.models import ApiScope
from digest.web.api import present
from digest.web.api.auth import requires
from digest.web.api.blueprint import bp
from digest.web.api.body import Body, decode_cursor, encode_cursor, limit_arg
from digest.web.api.problems import Problem
from digest.web.context import core

Answer = tuple[dict[str, Any], int] | dict[str, Any]
ARTICLE_FIELDS = ("url", "title", "categories", "summary", "published", "author", "image")


@bp.get("/articles")
@requires(ApiScope.READ)
def list_articles() -> Answer:
    """Newest first; ``next`` is the cursor of the following page, null on the last."""
    limit = limit_arg()
    after = None
    if "cursor" in request.args:
        published, article_id = decode_cursor(request.args["cursor"], 2)
        after = (_time("cursor", published), article_id)
    page = core().article_page(limit=limit + 1, after=after, category=request.args.get("category"))
    more, page = len(page) > limit, page[:limit]
    last = page[-1] if page else None
    cursor = (
        encode_cursor(present.when(last.published_at) or "", last.id) if more and last else None
    )
    return {"items": [present.article(a) for a in page], "next": cursor}


@bp.post("/articles")
@requires(ApiScope.WRITE)
def put_article() -> Answer:
    """Create or update an article, matched by URL like `digest articles add` and a feed
    import: the same body twice changes nothing (200), a changed one updates it (200)."""
    body = Body(ARTICLE_FIELDS)
    published = body.text("published")
    article, counts = core().add_article(
        title=body.text("title", required=True),
        url=body.text("url", required=True),
        categories=body.strings("categories", required=True) or (),
        summary=body.text("summary"),
        published=_time("published", published) if published else None,
        author=body.text("author"),
        image=body.text("image"),
    )
    result = "added" if counts.added else "updated" if counts.updated else "unchanged"
    return {"article": present.article(article), "result": result}, 201 if counts.added else 200


def _time(field: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as e:
        raise Problem(422, f"{field}: {text!r} is not an ISO 8601 date and time") from e
    if value.tzinfo is None:
        raise Problem(422, f"{field}: {text!r} needs a UTC offset, e.g. 2026-11-30T09:00:00Z")
    return value


@bp.get("/categories")
@requires(ApiScope.READ)
def list_categories() -> Answer:
    return {"items": [present.category(c) for c in core().list_categories()]}


@bp.post("/categories")
@requires(ApiScope.WRITE)
def add_category() -> Answer:
    body = Body(("name", "description"))
    result = core().add_category(body.text("name", required=True), body.text("description"))
    return {"category": present.category(result.category)}, 201 if result.created else 200


@bp.get("/editions")
@requires(ApiScope.READ)
def list_editions() -> Answer:
    return {"items": [present.edition(e) for e in core().list_editions()]}


@bp.get("/editions/<int:edition_id>")
@requires(ApiScope.READ)
def show_edition(edition_id: int) -> Answer:
    return {"edition": present.edition(core().show_edition(edition_id))}


@bp.get("/editions/<int:edition_id>/stats")
@requires(ApiScope.READ)
def edition_stats(edition_id: int) -> Answer:
    """The figures of `digest editions stats --json` (docs/reports.md), from the same core."""
    return {"stats": core().edition_stats(edition_id).as_dict()}
