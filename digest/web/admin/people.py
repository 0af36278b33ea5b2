"""The desk's Readers and Articles pages: find a reader by address, see their history,
unsubscribe or reactivate them with a reason; the latest articles and a feed import."""

from __future__ import annotations

from urllib.parse import quote

from flask import redirect, request

from digest.errors import DigestError, NotFoundError
from digest.web.admin.guard import Page, audit, bp, page, who
from digest.web.context import core, error_page


@bp.get("/readers")
def readers() -> Page:
    query = request.args.get("q", "")[:254]
    return page("readers.html", q=query, found=core().search_readers(query) if query else [])


@bp.get("/readers/<path:address>")
def reader(address: str) -> Page:
    try:
        detail = core().reader_detail(address)
    except DigestError:
        return error_page(404), 404
    return page(
        "reader.html",
        d=detail,
        s=detail.subscriber,
        message=request.args.get("done", ""),
        error="",
    )


@bp.post("/readers/<path:address>/<action>")
def reader_act(address: str, action: str) -> Page:
    reason = " ".join(request.form.get("reason", "").split())[:200]
    app = core()
    try:
        if not reason:
            raise DigestError("say why, for the record")
        if action == "unsubscribe":
            app.unsubscribe(address, source=f"desk: {who()}: {reason}")
            done = "Unsubscribed."
        elif action == "reactivate":
            app.reactivate(address, reason, source=f"desk: {who()}")
            done = "Reactivated."
        else:
            return error_page(404), 404
    except NotFoundError:
        return error_page(404), 404
    except DigestError as e:
        detail = app.reader_detail(address)
        return page("reader.html", d=detail, s=detail.subscriber, message="", error=str(e)), 400
    audit(action, reader=address, reason=reason)
    return redirect(
        f"{request.script_root}/admin/readers/{quote(address)}?done={quote(done)}", code=303
    )


@bp.get("/articles")
def articles() -> Page:
    return page(
        "articles.html",
        rows=core().latest_articles(),
        feeds=core().settings.feeds,
        message=request.args.get("done", ""),
        error="",
    )


@bp.post("/articles/import")
def import_feed() -> Page:
    url = request.form.get("url", "").strip()
    app = core()
    feeds = {f.url: f for f in app.settings.feeds}
    try:
        if url not in feeds:
            raise DigestError("choose one of the feeds in digest.toml")
        counts = app.refresh_feed(feeds[url])
    except DigestError as e:
        return page(
            "articles.html",
            rows=app.latest_articles(),
            feeds=app.settings.feeds,
            message="",
            error=str(e),
        ), 400
    audit("import", feed=url)
    done = f"Imported: {counts.added} added, {counts.updated} updated."
    return redirect(f"{request.script_root}/admin/articles?done={quote(done)}", code=303)
