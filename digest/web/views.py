"""The readers' pages. Each view reads the request, calls one use case of the application core
(digest.app) and renders a template from templates/web/."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from digest.app import ConfirmOutcome, Refusal
from digest.app.signup import SOURCE
from digest.errors import InputError
from digest.links import (
    ARCHIVE_PREFIX,
    CONFIRM_PREFIX,
    PREFERENCES_PREFIX,
    UNSUBSCRIBE_PREFIX,
    VIEW_PREFIX,
)
from digest.models import MAX_ROW_ID, ArchivedEdition, Category, Subscriber, SubscriberStatus
from digest.render.i18n import language_choices
from digest.render.present import clean_text, safe_url, summary_text
from digest.tokens import ConfirmClaim, ExpiredTokenError, TokenError
from digest.web.choices import (
    day_choices,
    read_delivery_day,
    read_pause,
    read_timezone,
    zone_names,
)
from digest.web.context import core, error_page, state
from digest.web.forms import (
    HONEYPOT_FIELD,
    FormState,
    read_choices,
    read_email,
    undecodable,
)
from digest.web.language import _, page_date, page_period, use_reader_language
from digest.web.security import CSRF_FIELD, FORM_CONTENT_TYPES, CsrfError

bp = Blueprint("web", __name__)

# How long a confirmation link works. Long enough for a reader who signs up on Friday and
# reads mail on Monday; short enough that an old forwarded link soon stops working.
CONFIRM_MAX_AGE = 7 * 24 * 3600

Page = tuple[str, int] | str | Response | WerkzeugResponse


@bp.before_app_request
def _reject_undecodable() -> Page | None:
    """A form body that is not UTF-8 gets a clear 400, not a guess at what was meant."""
    if request.method != "POST" or request.mimetype not in FORM_CONTENT_TYPES:
        return None
    if request.path.startswith("/api/"):
        return None  # the API answers JSON only, with its own limit (digest.web.api)
    # Read (and cache) the body first: werkzeug then parses the form from the cache.
    body = request.get_data(cache=True) if request.mimetype.endswith("urlencoded") else b""
    if undecodable(request.mimetype, body, request.form):
        return error_page(
            400,
            _("The form could not be read"),
            _(
                "Your browser sent the form in a character encoding other than UTF-8. Please "
                "go back and send it again, or try another browser."
            ),
        ), 400
    return None


def _client_ip() -> str:
    # With web.trust_proxy, ProxyFix has already put X-Forwarded-For's client here.
    return request.remote_addr or ""


def _check_csrf(path: str) -> None:
    try:
        state().csrf.check(request.form.get(CSRF_FIELD), path)
    except CsrfError as e:
        raise _CsrfRefused(path) from e


class _CsrfRefused(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@bp.app_errorhandler(_CsrfRefused)
def _csrf_refused(error: _CsrfRefused) -> tuple[str, int]:
    return error_page(
        400,
        _("This form has expired"),
        _(
            "The form was too old, or it was not sent from this site's own page, so nothing "
            "was changed. Open the page again and send the form from there."
        ),
        back=error.path,
    ), 400


def _categories() -> list[Category]:
    return core().list_categories()


def _site_day() -> str:
    return state().settings.schedule.weekly_day.lower()[:3]


# -- sign-up -----------------------------------------------------------------------------------


@bp.get("/")
def signup_page() -> Page:
    return _signup_form(FormState())


def _signup_form(form: FormState, status: int = 200) -> tuple[str, int]:
    return render_template(
        "web/signup.html",
        form=form,
        categories=_categories(),
        zones=zone_names(),
        days=day_choices(_site_day()),
    ), status


@bp.get("/subscribe")
def subscribe_get() -> WerkzeugResponse:
    return redirect(url_for("web.signup_page"))


@bp.post("/subscribe")
def subscribe() -> Page:
    """Sign-up from our own page (with a CSRF token) or from the embeddable snippet on the
    publisher's site (which cannot carry one). A post without a token is accepted: all it
    can do is send a confirmation email to the address typed, behind the honeypot and the
    rate limits. A token that is present must be valid (a stale page says so)."""
    detail = ""
    if CSRF_FIELD in request.form:
        _check_csrf(request.path)
    else:
        detail = "embed"
    if request.form.get(HONEYPOT_FIELD, "").strip():
        # A bot filled the field people cannot see: it gets the usual answer and nothing
        # is sent, but it still spends its IP's budget.
        core().take_signup_slot(ip=_client_ip(), address=None)
        return _check_inbox()
    form = FormState()
    email, email_error = read_email(request.form.get("email", ""))
    form.email = email
    if not email_error:
        try:
            core().usable_address(email)
        except InputError as e:
            email_error = e.message
    if email_error:
        form.errors["email"] = email_error
    choices = read_choices(request.form, _categories(), form)
    timezone = read_timezone(request.form, form)
    day = read_delivery_day(request.form, form, _site_day())
    if choices is None or email_error or not form.ok:
        return _signup_form(form, 400)
    choices = dataclasses.replace(choices, delivery_day=day)
    refused = core().take_signup_slot(ip=_client_ip(), address=email)
    if refused:
        return _rate_limited(refused)
    # Always a job (kind "none" does nothing on the mail thread): the same steps for every
    # address, known or not. The timezone travels with the request, like the other choices.
    state().mailer.submit(core().sign_up_in_zone(email, choices, detail, timezone))
    return _check_inbox()


def _check_inbox() -> tuple[str, int]:
    # The same bytes whatever the address was: no address, no status, no token on it.
    return render_template("web/check_inbox.html"), 200


def _rate_limited(refused: Refusal) -> Response:
    if refused == "ip":
        message = _(
            "There have been too many sign-ups from your network in the last hour. "
            "Please try again later."
        )
        retry = 3600
    else:
        message = _(
            "We have already sent several emails to this address today. Please look in your "
            "inbox and spam folder for them, or try again tomorrow."
        )
        retry = 24 * 3600
    response = Response(error_page(429, _("Please try again later"), message), 429)
    response.headers["Retry-After"] = str(retry)
    return response


# -- confirm -----------------------------------------------------------------------------------


@bp.get(f"{CONFIRM_PREFIX}<token>")
def confirm_page(token: str) -> Page:
    claim = _confirm_claim(token)
    if isinstance(claim, tuple):
        return claim
    outcome = core().confirmable(claim)
    if outcome == "confirmed":
        # A button, not activation on GET: mail scanners follow every link in a message,
        # and a scanner's visit must not count as the reader's consent.
        return render_template("web/confirm.html", action=request.path), 200
    return _confirm_outcome(outcome)


@bp.post(f"{CONFIRM_PREFIX}<token>")
def confirm(token: str) -> Page:
    _check_csrf(request.path)
    claim = _confirm_claim(token)
    if isinstance(claim, tuple):
        return claim
    outcome = core().confirm(claim, _client_ip())
    subscriber_id = core().claimed_reader(claim)
    if outcome == "confirmed" and subscriber_id is not None:
        state().mailer.submit_welcome(subscriber_id)
    return _confirm_outcome(outcome)


def _confirm_claim(token: str) -> ConfirmClaim | tuple[str, int]:
    try:
        return state().links.read_confirm(token, CONFIRM_MAX_AGE)
    except ExpiredTokenError:
        return _link_problem("expired", 410)
    except TokenError:
        return _link_problem("invalid", 404)


def _confirm_outcome(outcome: ConfirmOutcome) -> tuple[str, int]:
    if outcome in ("confirmed", "already"):
        return render_template("web/confirmed.html", already=outcome == "already"), 200
    if outcome == "superseded":
        return _link_problem("superseded", 410)
    return _link_problem("invalid", 404)


def _link_problem(kind: str, status: int, form: FormState | None = None) -> tuple[str, int]:
    return render_template(
        "web/link_problem.html",
        kind=kind,
        form=form or FormState(),
        action=f"{CONFIRM_PREFIX}resend",
    ), status


@bp.post(f"{CONFIRM_PREFIX}resend")
def resend() -> Page:
    _check_csrf(request.path)
    if request.form.get(HONEYPOT_FIELD, "").strip():
        return _check_inbox()
    email, error = read_email(request.form.get("email", ""))
    if error:
        form = FormState(email=email, errors={"email": error})
        return _link_problem("resend", 400, form)
    refused = core().take_signup_slot(ip=_client_ip(), address=email)
    if refused:
        return _rate_limited(refused)
    job = core().resend_confirmation(email)
    if job is not None:
        state().mailer.submit(job)
    return _check_inbox()


# -- preferences -------------------------------------------------------------------------------


def _subscriber(read: Callable[[str], int], token: str) -> Subscriber:
    try:
        subscriber_id = read(token)
    except TokenError:
        abort(_invalid_link())
    subscriber = core().reader(subscriber_id)
    if subscriber is None:
        abort(_invalid_link())
    # A page their own link opened: in their language (digest/web/language.py).
    use_reader_language(subscriber.language)
    return subscriber


def _invalid_link() -> Response:
    page, status = _link_problem("invalid", 404)
    return Response(page, status)


def _preferences_state(subscriber: Subscriber, categories: list[Category]) -> FormState:
    ids = core().reader_category_ids(subscriber.id)
    by_id = {c.id: c.slug for c in categories}
    return FormState(
        email=subscriber.email,
        name=subscriber.name,
        categories=[by_id[i] for i in ids if i in by_id],
        frequency=subscriber.frequency,
        timezone=subscriber.timezone,
        language=subscriber.language,
        delivery_day="" if subscriber.delivery_day == _site_day() else subscriber.delivery_day,
    )


def _preferences(
    subscriber: Subscriber, form: FormState | None = None, status: int = 200, **extra: Any
) -> tuple[str, int]:
    categories = _categories()
    paused_until = core().reader_paused_until(subscriber.id)
    return render_template(
        "web/preferences.html",
        subscriber=subscriber,
        form=form or _preferences_state(subscriber, categories),
        categories=categories,
        languages=language_choices(),
        action=request.path,
        zones=zone_names(),
        days=day_choices(_site_day()),
        paused_until=page_date(paused_until) if paused_until else "",
        **extra,
    ), status


@bp.get(f"{PREFERENCES_PREFIX}<token>")
def preferences_page(token: str) -> Page:
    subscriber = _subscriber(state().links.read_preferences, token)
    return _preferences(subscriber, saved=request.args.get("saved") == "1")


@bp.post(f"{PREFERENCES_PREFIX}<token>")
def preferences(token: str) -> Page:
    _check_csrf(request.path)
    subscriber = _subscriber(state().links.read_preferences, token)
    action = request.form.get("action", "save")
    if action == "unsubscribe":
        core().unsubscribe_reader(subscriber.id, SOURCE)
        return _unsubscribed(subscriber.id)
    form = FormState(email=subscriber.email)
    choices = read_choices(request.form, _categories(), form)
    timezone = read_timezone(request.form, form)
    pause = read_pause(request.form, form)
    day = read_delivery_day(request.form, form, _site_day())
    if choices is None or not form.ok:
        return _preferences(subscriber, form, 400)
    choices = dataclasses.replace(choices, delivery_day=day)
    if action == "resubscribe":
        if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
            return _preferences(subscriber)
        refused = core().take_signup_slot(ip=_client_ip(), address=subscriber.email)
        if refused:
            return _rate_limited(refused)
        state().mailer.submit(core().sign_up(subscriber.email, choices, "preferences"))
        return _check_inbox()
    core().save_reader_choices(subscriber.id, choices, timezone=timezone, pause_weeks=pause)
    # Post/redirect/get: reloading the page must not post the form again.
    return redirect(f"{request.script_root}{request.path}?saved=1", 303)


def _unsubscribed(subscriber_id: int) -> tuple[str, int]:
    # The way back: their preferences page offers to subscribe again.
    preferences = state().links.preferences_path(subscriber_id)
    return render_template("web/unsubscribed.html", preferences=preferences), 200


# -- unsubscribe -------------------------------------------------------------------------------


@bp.get(f"{UNSUBSCRIBE_PREFIX}<token>")
def unsubscribe_page(token: str) -> Page:
    """Asks; never unsubscribes by itself (link scanners follow GETs)."""
    subscriber = _subscriber(state().links.read_unsubscribe, token)
    preferences = state().links.preferences_path(subscriber.id)
    return render_template(
        "web/unsubscribe.html",
        subscriber=subscriber,
        action=request.path,
        preferences=preferences,
    ), 200


@bp.post(f"{UNSUBSCRIBE_PREFIX}<token>")
def unsubscribe(token: str) -> Page:
    """RFC 8058 one-click (the mail provider posts ``List-Unsubscribe=One-Click`` with no
    cookie and no CSRF token: the signed link token is the authority), or the button on the
    page above. Both take effect at once and answer 200, never a redirect."""
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if not one_click:
        _check_csrf(request.path)
    subscriber = _subscriber(state().links.read_unsubscribe, token)
    # The token is genuine (read above): the edition it names is the one the link came in.
    edition_id = state().links.read_unsubscribe_claim(token).edition_id
    source = "one-click" if one_click else SOURCE
    core().unsubscribe_reader(subscriber.id, source, edition_id=edition_id)
    return _unsubscribed(subscriber.id)


# -- archive -----------------------------------------------------------------------------------


@bp.get("/archive")
def archive() -> Page:
    editions = core().archived_editions()
    return render_template("web/archive.html", editions=[_edition_view(e) for e in editions])


def _edition_view(edition: ArchivedEdition) -> dict[str, Any]:
    period = page_period(edition.starts_at, edition.ends_at)
    title = (
        _("Daily digest, %(period)s", period=period)
        if edition.frequency == "daily"
        else _("Weekly digest, %(period)s", period=period)
    )
    return {
        "id": edition.id,
        "title": title,
        "sent": page_date(edition.sent_at),
        "sent_iso": edition.sent_at.date().isoformat(),
    }


# Out of range (0, or beyond SQLite's integers) matches no route: a 404 like any unknown id.
@bp.get(f"{ARCHIVE_PREFIX}<int(min=1, max={MAX_ROW_ID}):edition_id>")
def archive_edition(edition_id: int) -> Page:
    page = core().archived_edition(edition_id)
    if page is None:
        abort(404)
    sections = page.sections
    return render_template(
        "web/edition.html",
        edition=_edition_view(page.edition),
        sections=[
            {
                "category": s.category,
                "slug": s.slug,
                "articles": [
                    {
                        "title": clean_text(a.title) or _("(untitled)"),
                        "url": safe_url(a.url),
                        "date": page_date(a.published_at),
                        "date_iso": a.published_at.date().isoformat(),
                        "author": clean_text(a.author),
                        "summary": summary_text(a),
                    }
                    for a in s.articles
                ],
            }
            for s in sections
        ],
    )


# -- one reader's copy ("View in browser") ---------------------------------------------------

# The email's own HTML: inline styles and a style block, photos from the articles' sites.
# No script, no form, never framed (docs/email.md rule 28).
VIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@bp.get(f"{VIEW_PREFIX}<token>")
def reader_copy(token: str) -> Page:
    try:
        claim = state().links.read_view(token)
    except TokenError:
        abort(404)
    page = core().reader_copy(claim.subscriber_id, claim.edition_id)
    if page is None:
        abort(404)
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = VIEW_CSP
    # It carries the reader's own unsubscribe and preferences links.
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# -- assets ------------------------------------------------------------------------------------


@bp.get("/static/site.css")
def stylesheet() -> Response:
    response = Response(render_template("web/site.css"), mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/static/timezone.js")
def timezone_script() -> Response:
    response = Response(render_template("web/timezone.js"), mimetype="text/javascript")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/favicon.ico")
def favicon() -> Response:
    # Browsers ask for it on every site; an empty answer keeps a 404 out of their consoles.
    response = Response(status=204)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/healthz")
def health() -> Response:
    core().healthy()
    return Response("ok\n", mimetype="text/plain")
