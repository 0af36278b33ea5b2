"""The reader's language: gettext catalogs (Babel), locale dates, and the text direction.

Catalogs are the ``.po`` files under ``digest/locale/<lang>/LC_MESSAGES/messages.po``, kept in
the repository and shipped as package data. They are compiled in memory the first time a
language is used (Babel's ``read_po`` then ``write_mo``), so an editable install and a regular
``pip install .`` work the same, with no build step and no ``.mo`` file to go stale. To add a
language, see docs/email.md rule 27.
"""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from digest.errors import ConfigError

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Marks a string for `pybabel extract` without translating it here."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a plural pair for `pybabel extract -k NP_:1,2`."""
    return singular, plural


# Words only known at run time, marked so the catalogs have them: the frequencies and the
# default subject (digest.config.schema, DigestSettings.subject).
FREQUENCIES = (N_("weekly"), N_("daily"))
DEFAULT_SUBJECT = NP_(
    "%(site)s %(frequency)s: %(num)d new article in %(categories)s",
    "%(site)s %(frequency)s: %(num)d new articles in %(categories)s",
)


def available_languages() -> tuple[str, ...]:
    """Languages with a catalog, plus English (the source language)."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return ("en", *found)


@functools.lru_cache(maxsize=32)
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog for ``lang`` (``es``, ``es-MX`` falls back to ``es``); English and a
    language without a catalog get the source strings."""
    for tag in _candidates(lang):
        po = LOCALE_DIR / tag / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po.is_file():
            # Babel's catalog tools are imported only when a catalog is read: an English-only
            # process never needs them (docs/performance.md, Memory).
            from babel.messages.mofile import write_mo
            from babel.messages.pofile import read_po

            with po.open("rb") as f:
                catalog = read_po(f, locale=tag)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            return gettext.GNUTranslations(buffer)
    return gettext.NullTranslations()


class TemplateGettext:
    """``_``/``gettext`` and ``ngettext`` for templates, with the meaning of Jinja's new-style
    i18n callables (``jinja2.ext``, ``newstyle=True``): the translation is always a format
    string, filled with the keyword arguments (``num`` defaults to the count), and is Markup
    where the template autoescapes, so only the arguments are escaped.

    Faster than Jinja's own: those resolve ``gettext`` in the context and go through two more
    ``Context.call`` layers for every string, 68 times a digest (docs/performance.md,
    Rendering). Here the template's call reaches the catalog directly, and a string without
    arguments, the common case, is translated and formatted once per language. The catalog
    of a language never changes while the process runs (:func:`translations` is cached)."""

    # Strings without arguments are remembered; a template that calls _() on run-time text
    # must not grow the cache without end.
    CACHE_SIZE = 4_096

    def __init__(self, catalog: gettext.NullTranslations) -> None:
        self._gettext = catalog.gettext
        self._ngettext = catalog.ngettext
        self._done: dict[tuple[str, bool], str] = {}
        self.gettext = self._make_gettext()
        self.ngettext = self._make_ngettext()

    def _make_gettext(self) -> Callable[..., str]:
        done, translate = self._done, self._gettext

        @pass_eval_context
        def gettext(eval_ctx: EvalContext, string: str, /, **variables: Any) -> str:
            escape = eval_ctx.autoescape
            if variables:
                text = translate(string)
                return (Markup(text) if escape else text) % variables
            key = (string, escape)
            found = done.get(key)
            if found is None:
                text = translate(string)
                found = (Markup(text) if escape else text) % variables
                if len(done) >= self.CACHE_SIZE:
                    done.clear()
                done[key] = found
            return found

        return gettext

    def _make_ngettext(self) -> Callable[..., str]:
        translate = self._ngettext

        @pass_eval_context
        def ngettext(
            eval_ctx: EvalContext, singular: str, plural: str, num: int, /, **variables: Any
        ) -> str:
            variables.setdefault("num", num)
            text = translate(singular, plural, num)
            return (Markup(text) if eval_ctx.autoescape else text) % variables

        return ngettext


@functools.lru_cache(maxsize=32)
def template_gettext(lang: str) -> TemplateGettext:
    """The template callables of ``lang``, one set per language and process."""
    return TemplateGettext(translations(lang))


def _candidates(lang: str) -> list[str]:
    tag = lang.replace("-", "_")
    return [tag, tag.split("_")[0]] if "_" in tag else [tag]


@functools.lru_cache(maxsize=64)
def locale_of(lang: str) -> Locale:
    try:
        return Locale.parse(lang.replace("-", "_"))
    except (ValueError, UnknownLocaleError) as e:
        raise ConfigError(f"language {lang!r}: not a language Babel knows ({e})") from e


def direction(lang: str) -> str:
    """``rtl`` for right-to-left languages (Arabic, Hebrew, ...), else ``ltr``."""
    return "rtl" if locale_of(lang).character_order == "right-to-left" else "ltr"


def date_label(dt: datetime, lang: str = "en") -> str:
    """The date in the language's own medium format: 28 Nov 2026, 28 nov 2026, ..."""
    # By the calendar date, as Babel formats it: two equal datetimes in different zones can
    # fall on different days.
    return _day_label(dt.date(), lang)


@functools.lru_cache(maxsize=1_024)
def _day_label(day: date, lang: str) -> str:
    # Remembered: the same few days (an edition's period, its articles' dates) are formatted
    # for every variant, and Babel parsed the locale again for a tag given as a string.
    if lang == "en":
        return format_date(day, "d MMM y", locale=locale_of("en"))
    return format_date(day, "medium", locale=locale_of(lang))


def period_label(starts_at: datetime, ends_at: datetime, lang: str = "en") -> str:
    """``22 Nov 2026 – 28 Nov 2026``; the end is exclusive, so midnight is the day before."""
    last = ends_at - timedelta(microseconds=1) if ends_at > starts_at else ends_at
    first = date_label(starts_at, lang)
    end = date_label(last, lang)
    return first if first == end else f"{first} – {end}"


def language_choices() -> list[tuple[str, str]]:
    """(tag, the language's own name) for each language with a catalog, for a form."""
    return [
        (tag, locale_of(tag).get_display_name(locale_of(tag)) or tag)
        for tag in available_languages()
    ]
