"""The desk's blueprint and what every page of it goes through: a signed-in editor (else
the login page), a CSRF token bound to the editor and the form's path on every POST, and a
log line for every state change with the editor's id."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, g, redirect, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from digest.models import Editor
from digest.web.admin.session import COOKIE, LoginLimiter, Sessions
from digest.web.context import core, error_page, state
from digest.web.security import CSRF_FIELD, CsrfError

log = logging.getLogger("digest.desk")
bp = Blueprint("desk", __name__, url_prefix="/admin")
# Pages an editor reaches without a session.
OPEN_ENDPOINTS = {
    "desk.login",
    "desk.login_post",
    "desk.password",
    "desk.password_post",
    "desk.stylesheet",
}

Page = tuple[str, int] | str | Response | WerkzeugResponse


def sessions() -> Sessions:
    value: Sessions = current_app.extensions["digest.desk.sessions"]
    return value


def limiter() -> LoginLimiter:
    value: LoginLimiter = current_app.extensions["digest.desk.limiter"]
    return value


def editor() -> Editor:
    value: Editor = g.editor
    return value


def who() -> str:
    """The editor as the edition's record of changes names them: address and id."""
    e = editor()
    return f"{e.email} (#{e.id})"


def audit(action: str, **detail: Any) -> None:
    e = editor()
    log.info(
        "editor #%d %s: %s %s",
        e.id,
        e.email,
        action,
        " ".join(f"{k}={v!r}" for k, v in detail.items()),
    )


def _csrf_path() -> str:
    return f"{editor().id}:{request.path}"


def csrf_for(path: str) -> str:
    """A CSRF token for a form that posts to ``path``, bound to the signed-in editor."""
    return state().csrf.issue(f"{editor().id}:{path}")


@bp.before_request
def _require_editor() -> Page | None:
    g.editor = None
    editor_id = sessions().read(request.cookies.get(COOKIE))
    found = core().get_editor(editor_id) if editor_id is not None else None
    if found is not None:
        g.editor = found
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if found is None:
        target = request.full_path if request.method == "GET" else request.path
        response = redirect(f"{request.script_root}/admin/login?next={_quote(target)}")
        response.delete_cookie(COOKIE, path="/admin")
        return response
    if request.method == "POST":
        try:
            state().csrf.check(request.form.get(CSRF_FIELD), _csrf_path())
        except CsrfError:
            return error_page(
                400,
                "This form has expired",
                "The form was too old, or was not sent from this desk's own page, so nothing "
                "was changed. Open the page again and send it from there.",
            ), 400
    return None


# The readers' policy, and the desk may frame its own email preview (which has a policy of
# its own: pages.PREVIEW_CSP).
DESK_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)


@bp.after_request
def _private(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", DESK_CSP)
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Robots-Tag", "noindex")
    return response


def page(template: str, **context: Any) -> str:
    return render_template(
        f"web/admin/{template}", editor=g.get("editor"), csrf_for=csrf_for, **context
    )


def _quote(path: str) -> str:
    return quote(path.rstrip("?"), safe="/")


def set_session(response: WerkzeugResponse, editor_id: int) -> None:
    secure = state().settings.site.url.startswith("https://")
    response.set_cookie(
        COOKIE,
        sessions().issue(editor_id),
        max_age=sessions().max_age,
        path="/admin",
        httponly=True,
        samesite="Lax",
        secure=secure,
    )
