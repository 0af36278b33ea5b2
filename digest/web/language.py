"""The language of a reader page: the reader's own on the pages their signed links open
(preferences, unsubscribe), else the best of the browser's Accept-Language that has a
catalog, else ``[site] lang``. Pages and the messages the views write use the same gettext
catalogs as the emails (digest.render.i18n; adding a language: docs/languages.md).

The editor's desk (/admin/) is English only and never calls these."""

from __future__ import annotations

from datetime import datetime

from babel.dates import get_day_names
from flask import Flask, current_app, g, request

from digest.config import Settings
from digest.render.i18n import (
    N_,
    available_languages,
    date_label,
    direction,
    locale_of,
    period_label,
    translations,
)

__all__ = [
    "N_",
    "_",
    "day_names",
    "install",
    "ngettext",
    "page_date",
    "page_language",
    "page_period",
    "use_reader_language",
]


def install(app: Flask, settings: Settings) -> None:
    """Jinja's i18n extension on the app's templates, translating to the page's language
    at render time (new-style: ``_("Hello %(name)s", name=...)``)."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: translations(page_language()).gettext(message),
        lambda singular, plural, n: translations(page_language()).ngettext(singular, plural, n),
        newstyle=True,
    )
    app.extensions["digest.site_lang"] = settings.site.lang

    @app.context_processor
    def _language() -> dict[str, str]:
        lang = page_language()
        return {"page_lang": lang, "page_dir": direction(lang)}


def page_language() -> str:
    """The language this request's page is written in."""
    chosen: str | None = g.get("digest_lang")
    if chosen is None:
        site: str = current_app.extensions["digest.site_lang"]
        offered = available_languages()
        chosen = request.accept_languages.best_match(offered) or _supported(site) or "en"
        g.digest_lang = chosen
    return chosen


def use_reader_language(language: str) -> None:
    """On a page the reader's own link opened: their language, when it has a catalog
    (``es-MX`` reads the ``es`` one); otherwise the page keeps the negotiated one."""
    if _supported(language):
        g.digest_lang = language


def _supported(language: str) -> str | None:
    if not language:
        return None
    primary = language.replace("_", "-").split("-")[0]
    return language if primary in available_languages() else None


def _(message: str, **variables: object) -> str:
    """``message`` in the page's language, with ``%(name)s`` filled from ``variables``."""
    text = translations(page_language()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: object) -> str:
    text = translations(page_language()).ngettext(singular, plural, num)
    return text % {"num": num, **variables}


def page_date(moment: datetime) -> str:
    """A date in the page's language (Babel's medium format)."""
    return date_label(moment, page_language())


def page_period(starts_at: datetime, ends_at: datetime) -> str:
    return period_label(starts_at, ends_at, page_language())


def day_names() -> list[str]:
    """Monday to Sunday in the page's language, each starting with a capital where the
    script has them (a form's list)."""
    names = get_day_names("wide", locale=locale_of(page_language()))
    return [names[i][:1].upper() + names[i][1:] for i in range(7)]
