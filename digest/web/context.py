"""What the app factory and the views share: the per-app state, the core, error pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, render_template

from digest.app import App
from digest.config import Settings
from digest.links import Links
from digest.web.language import N_, _
from digest.web.mailer import Mailer
from digest.web.security import CsrfTokens


@dataclass(frozen=True)
class WebState:
    """Everything the views need, built once per app."""

    settings: Settings
    core: App
    csrf: CsrfTokens
    mailer: Mailer
    links: Links


# Set in flask.g by a view whose thread should keep its database connection after the
# request (the click redirect and open image: digest/web/tracking.py).
KEEP_DB = "digest_keep_db"


def state() -> WebState:
    value: WebState = current_app.extensions["digest"]
    return value


def mailer_of(app: Flask) -> Mailer:
    value: WebState = app.extensions["digest"]
    return value.mailer


def core() -> App:
    """The application core; every view calls one of its use cases."""
    return state().core


_ERRORS = {
    400: (
        N_("Something is wrong with that request"),
        N_("Please go back, check the form and try again."),
    ),
    404: (N_("Page not found"), N_("There is no page at this address.")),
    405: (N_("Not allowed"), N_("This page cannot be used that way.")),
    413: (
        N_("That was too much"),
        N_(
            "The form you sent was far larger than any sign-up or preferences form. Please go "
            "back and shorten what you typed."
        ),
    ),
    429: (N_("Please slow down"), N_("Too many requests. Please try again in a little while.")),
    500: (
        N_("Something went wrong"),
        N_("It is not your fault. Please try again in a few minutes."),
    ),
    503: (N_("Busy"), N_("The site is busy. Please try again in a minute.")),
}


def error_page(
    code: int, title: str | None = None, message: str | None = None, **extra: Any
) -> str:
    default_title, default_message = _ERRORS.get(code, _ERRORS[500 if code >= 500 else 400])
    return render_template(
        "web/error.html",
        code=code,
        title=title or _(default_title),
        message=message or _(default_message),
        **extra,
    )
