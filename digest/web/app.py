"""The Flask application factory: settings, the core, templates, headers, error pages.

The views and this factory share what they both need through digest.web.context (as
flaskr keeps get_db in db.py), so neither imports the other at module level."""

from __future__ import annotations

import logging
import re
from typing import Any

import jinja2
from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.middleware.proxy_fix import ProxyFix

from digest.app import App, TransportFactory
from digest.clock import Clock, system_clock
from digest.config import Settings, SiteSettings, templates_dirs
from digest.errors import StoreError
from digest.tokens import require_secret
from digest.web import language
from digest.web.context import KEEP_DB, WebState, error_page
from digest.web.mailer import Mailer
from digest.web.security import CSRF_FIELD, CsrfTokens, security_headers

log = logging.getLogger("digest.web")
Page = tuple[str, int] | Response

# A sign-up or preferences form is well under 4 KB; anything bigger is not a reader.
MAX_CONTENT_LENGTH = 64 * 1024
# What `digest serve` lets waitress buffer before the app sees a request (waitress' own
# default is 1 GB, read in full before any 413). Flask's limit above is the tighter one.
MAX_REQUEST_BODY = 1024 * 1024
MAX_FORM_MEMORY_SIZE = 16 * 1024
MAX_FORM_PARTS = 200
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
DEFAULT_ACCENT = SiteSettings().accent_color


def create_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    transport_factory: TransportFactory | None = None,
) -> Flask:
    """The readers' web app. Fails at once (ConfigError, TemplateError) when the secret key is
    missing or the templates are broken, rather than on the first reader."""
    secret = require_secret(settings)
    app_core = App.open(settings, clock=clock, transports=transport_factory)
    app_core.renderer  # noqa: B018 (broken templates fail now, not on the first reader)
    app_core.check_welcome_setting()
    app = Flask("digest.web", static_folder=None, template_folder=None)
    app.config.update(
        SECRET_KEY=secret,
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        MAX_FORM_MEMORY_SIZE=MAX_FORM_MEMORY_SIZE,
        MAX_FORM_PARTS=MAX_FORM_PARTS,
        # Never show a debugger or traceback to a reader, whatever FLASK_DEBUG says.
        PROPAGATE_EXCEPTIONS=False,
        TRAP_HTTP_EXCEPTIONS=False,
    )
    # Editors' templates first, then the shipped ones; pages live in their web/ folder.
    app.jinja_loader = jinja2.FileSystemLoader([str(d) for d in templates_dirs(settings)])
    language.install(app, settings)
    csrf = CsrfTokens(secret)
    accent = settings.site.accent_color
    # Globals rather than a context processor: imported macros (web/_form.html) see these.
    app.jinja_env.globals.update(
        site=settings.site,
        accent=accent if _HEX_COLOR.fullmatch(accent) else DEFAULT_ACCENT,
        csrf_field=CSRF_FIELD,
        csrf_token=csrf.issue,
    )
    app.extensions["digest"] = WebState(
        settings=settings,
        core=app_core,
        csrf=csrf,
        mailer=Mailer(app_core),
        links=app_core.links,
    )
    if settings.web.trust_proxy:
        # Only behind a proxy we run: otherwise anyone could pick their IP for rate limits
        # and consent records by sending X-Forwarded-For.
        # X-Forwarded-For and -Proto only: a client can send X-Forwarded-Host or -Prefix
        # through a proxy that does not clear them, and every link and redirect would then
        # point wherever it chose ("//evil.example/"). README: the nginx lines that clear them.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=1, x_proto=1, x_host=0, x_prefix=0
        )

    from digest.web import admin, api, hooks, metrics, tracking, views
    from digest.web.admin.session import LoginLimiter, Sessions

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(hooks.bp)
    app.register_blueprint(tracking.bp)
    app.extensions["digest.desk.sessions"] = Sessions(secret)
    app.extensions["digest.desk.limiter"] = LoginLimiter()
    app.register_blueprint(admin.bp)

    @app.context_processor
    def _root() -> dict[str, Any]:
        # The WSGI server's SCRIPT_NAME (never a request header): every link and form action
        # starts with it. CSRF tokens bind the path without it.
        return {"root": request.script_root}

    @app.teardown_appcontext
    def _close_db(_: BaseException | None) -> None:
        # Each waitress thread opens its own connection; closing it after the request keeps
        # no file handle open between requests (the CLI and scheduler use the file too).
        # Click redirects keep theirs (digest/web/tracking.py): opening costs the schema
        # check, and closing the last connection checkpoints the WAL, milliseconds a click
        # that bench/clicks.py measured as most of the redirect's time.
        if not g.get(KEEP_DB, False):
            app_core.close()

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in security_headers().items():
            # The desk's email preview sets its own policy (a sandboxed frame of the desk).
            response.headers.setdefault(name, value)
        if not api.is_api(request.path):
            # Reader pages are written in the browser's language (digest/web/language.py).
            response.vary.add("Accept-Language")
        if "Cache-Control" not in response.headers:
            # Pages behind link tokens name a reader: no shared cache may keep them.
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Page:
        if api.is_api(request.path):
            return api.http_problem(error)
        code = error.code or 500
        response = Response(error_page(code), code)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            # RFC 9110 15.5.6: a 405 says which methods the page takes.
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response

    @app.errorhandler(StoreError)
    def _store_error(error: StoreError) -> Page:
        log.error("database: %s", error)
        if api.is_api(request.path):
            return api.problem(503, "the database is busy; try again in a minute")
        return error_page(503), 503

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Page:
        log.exception("unexpected error on %s %s", request.method, request.path)
        if api.is_api(request.path):
            return api.problem(500, "an unexpected error; it has been logged")
        return error_page(500), 500

    return app
