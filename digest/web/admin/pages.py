"""The desk's pages: log in and out, set a password, the editions, one edition (steer it,
preview the real email, send a test copy, approve, cancel, send a held one now)."""

from __future__ import annotations

import email
from email.message import Message
from urllib.parse import quote, urlencode, urlsplit

from flask import Response, redirect, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from digest.app import LoginRefused
from digest.errors import DigestError, NotFoundError
from digest.models import EditionStatus
from digest.tokens import ExpiredTokenError, TokenError
from digest.web.admin.guard import (
    Page,
    audit,
    bp,
    editor,
    limiter,
    page,
    set_session,
    who,
)
from digest.web.admin.session import COOKIE
from digest.web.context import core, error_page, state
from digest.web.security import CSRF_FIELD, CsrfError

# The preview is the reader's email: its own inline styles are allowed in the frame, and
# nothing else; sandboxed (no script, no forms, no top navigation), framed only by the desk.
PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
    "font-src https:; sandbox; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


_NEW_LINK = "Ask for a new one: `digest editors link`."
_USED_LINK = "It was already used, has expired, or is not complete."


# -- log in, out, password ----------------------------------------------------------------


@bp.get("/login")
def login() -> Page:
    return page("login.html", next=_safe_next(request.args.get("next", "")), error="")


@bp.post("/login")
def login_post() -> Page:
    try:
        state().csrf.check(request.form.get(CSRF_FIELD), "login:/admin/login")
    except CsrfError:
        return page("login.html", next="", error="The form expired: please try again."), 400
    target = _safe_next(request.form.get("next", ""))
    if not limiter().allow(request.remote_addr or ""):
        return page("login.html", next=target, error="Too many attempts: wait a few minutes."), 429
    try:
        found = core().editor_login(request.form.get("email", ""), request.form.get("password", ""))
    except LoginRefused as e:
        return page("login.html", next=target, error=f"Not signed in: {e}."), 401
    response = redirect(f"{request.script_root}{target or '/admin/'}", code=303)
    set_session(response, found.id)
    return response


@bp.post("/logout")
def logout() -> WerkzeugResponse:
    audit("logout")
    response = redirect(f"{request.script_root}/admin/login", code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response


@bp.get("/password/<token>")
def password(token: str) -> Page:
    try:
        found = core().editor_for_link(token)
    except ExpiredTokenError:
        return error_page(
            400, "This link has expired", "Ask for a new one: `digest editors link`."
        ), 400
    except TokenError:
        return error_page(
            400, "This link does not work", "It was already used, or is not complete."
        ), 400
    return page("password.html", who=found, token=token, error="")


@bp.post("/password/<token>")
def password_post(token: str) -> Page:
    try:
        state().csrf.check(request.form.get(CSRF_FIELD), f"password:{request.path}")
    except CsrfError:
        return error_page(400), 400
    first, second = request.form.get("password", ""), request.form.get("again", "")
    try:
        found = core().editor_for_link(token)
        if first != second:
            return page(
                "password.html", who=found, token=token, error="The two passwords differ."
            ), 400
        core().set_editor_password(token, first)
    except TokenError:
        return error_page(
            400, "This link does not work", "It was already used, or has expired."
        ), 400
    except DigestError as e:
        return page("password.html", who=found, token=token, error=str(e)), 400
    return redirect(f"{request.script_root}/admin/login", code=303)


def _safe_next(target: str) -> str:
    """Only a path of the desk itself: never another site."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin/"):
        return ""
    return target if "\\" not in target else ""


# -- editions ------------------------------------------------------------------------------


@bp.get("/")
def editions() -> Page:
    app = core()
    return page(
        "editions.html",
        upcoming=app.upcoming_editions(),
        past=app.past_editions(),
    )


@bp.post("/editions/prepare")
def prepare() -> Page:
    frequency = request.form.get("frequency", "weekly")
    if frequency not in ("weekly", "daily"):
        return error_page(400), 400
    view = core().prepare_edition(frequency, core().now(), editor=who())
    audit("prepare", edition=view.edition.id)
    return redirect(f"{request.script_root}/admin/editions/{view.edition.id}", code=303)


@bp.get("/editions/<int:edition_id>")
def edition(edition_id: int) -> Page:
    return _edition_page(
        edition_id,
        reader=request.args.get("reader", ""),
        chosen=request.args.getlist("categories"),
        message=request.args.get("done", ""),
    )


def _edition_page(
    edition_id: int,
    *,
    reader: str,
    chosen: list[str],
    message: str = "",
    error: str = "",
) -> Page:
    app = core()
    try:
        view = app.edition_plan_view(edition_id)
    except NotFoundError:
        return error_page(404), 404
    query = urlencode([("reader", reader)] + [("categories", c) for c in chosen])
    html = page(
        "edition.html",
        view=view,
        e=view.edition,
        counts=app.show_edition(edition_id).counts,
        # What it did, once its recipients are fixed: the figures of `digest editions stats`.
        stats=app.edition_stats(edition_id) if view.edition.started_at else None,
        variants=view.variants,
        categories=app.category_choices(),
        reader=reader,
        chosen=chosen,
        preview_query=query,
        message=message,
        error=error,
        steerable=view.edition.status.steerable,
        can_send_now=view.edition.status in (EditionStatus.HELD, EditionStatus.APPROVED),
    )
    return (html, 400) if error else html


_STEER = {"pin", "unpin", "up", "down", "exclude", "include"}


@bp.post("/editions/<int:edition_id>/<action>")
def act(edition_id: int, action: str) -> Page:
    """One change to the edition; back to its page with what happened, or the error."""
    app, form = core(), request.form
    article = form.get("article", "")
    try:
        if action == "pin":
            app.pin_article(
                edition_id, article, editor=who(), category=form.get("category") or None
            )
            done = f"Pinned {article}."
        elif action == "unpin":
            app.unpin_article(edition_id, article, editor=who())
            done = f"Unpinned {article}."
        elif action in ("up", "down"):
            app.move_pin(edition_id, article, -1 if action == "up" else 1, editor=who())
            done = f"Moved {article} {action}."
        elif action == "exclude":
            app.exclude_article(edition_id, article, editor=who())
            done = f"Excluded {article}."
        elif action == "include":
            app.include_article(edition_id, article, editor=who())
            done = f"Included {article} again."
        elif action == "intro":
            app.set_intro(edition_id, form.get("intro", ""), editor=who())
            done = "Intro saved."
        elif action == "subject":
            app.set_subject(edition_id, form.get("subject", ""), editor=who())
            done = "Subject saved."
        elif action == "approve":
            app.approve_edition(edition_id, editor=who())
            done = "Approved."
        elif action == "cancel":
            app.cancel_edition(edition_id, editor=who(), reason=form.get("reason", ""))
            done = "Cancelled."
        elif action == "send":
            found = app.show_edition(edition_id).edition
            if found.status not in (EditionStatus.HELD, EditionStatus.APPROVED):
                raise DigestError(f"edition #{edition_id} is {found.status}: approve it first")
            if found.status == EditionStatus.HELD:
                app.approve_edition(edition_id, editor=who())
            app.check_relay()
            report = app.send(
                found.frequency, app.now(), edition=app.show_edition(edition_id).edition
            )
            failed = report.failed + report.bounced
            done = f"Sent: {report.sent} sent, {failed} failed ({report.status})."
        elif action == "test":
            sent = app.edition_test_send(
                edition_id,
                editor().email,
                reader=form.get("reader") or None,
                categories=form.getlist("categories"),
            )
            done = f"Test copy sent to {sent.address}."
        else:
            return error_page(404), 404
    except NotFoundError as e:
        return _back(edition_id, error=str(e))
    except DigestError as e:
        return _back(edition_id, error=str(e))
    audit(action, edition=edition_id, article=article) if action in _STEER else audit(
        action, edition=edition_id
    )
    return redirect(f"{request.script_root}/admin/editions/{edition_id}?done={_q(done)}", code=303)


def _back(edition_id: int, *, error: str) -> Page:
    return _edition_page(
        edition_id,
        reader=request.form.get("reader", ""),
        chosen=request.form.getlist("categories"),
        error=error,
    )


def _q(text: str) -> str:
    return quote(text)


@bp.get("/editions/<int:edition_id>/preview")
def preview(edition_id: int) -> Response:
    """The HTML part of the email exactly as the reader gets it, for a sandboxed frame."""
    app = core()
    try:
        chosen = app.edition_preview(
            edition_id,
            reader=request.args.get("reader") or None,
            categories=request.args.getlist("categories"),
        )
        data = app.render_preview(chosen, "eml", date=app.now()).data
        html = _html_part(email.message_from_bytes(data))
    except DigestError as e:
        html = (
            "<!doctype html><meta charset='utf-8'><p>"
            + e.message.replace("&", "&amp;").replace("<", "&lt;")
            + "</p>"
        )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _html_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8")
    return ""


@bp.get("/static/desk.css")
def stylesheet() -> Response:
    response = Response(render_template("web/admin/desk.css"), mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
