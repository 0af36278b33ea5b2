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
from datetime import datetime, timedelta
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

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
            with po.open("rb") as f:
                catalog = read_po(f, locale=tag)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            return gettext.GNUTranslations(buffer)
    return gettext.NullTranslations()


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
    if lang == "en":
        return format_date(dt, "d MMM y", locale="en")
    return format_date(dt, "medium", locale=locale_of(lang))


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
