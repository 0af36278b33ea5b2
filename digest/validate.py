"""Checking what readers and operators type: addresses, names, timezones, frequencies.

One set of rules for every way in (the CLI, CSV imports, the web forms, the API): each
function returns the clean value or raises InputError with a one-line reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email

from digest.config import WEEKDAYS
from digest.errors import InputError
from digest.models import FREQUENCIES, Frequency

# Enough for any real name; a name is shown on the reader's own preferences page and in the
# To: header of their digests, so it must not be a place for a message.
MAX_NAME_LENGTH = 80
# Unicode categories Cc (C0, DEL, C1), Zl and Zp: anything that could break a header line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Web addresses in a name (checked after NFKC, which folds fullwidth letters and the
# ideographic full stops browsers treat as dots): a scheme ("https:", "mailto:"), "www.",
# or a domain-like token (labels joined by dots, ending in 2+ letters, as in evil.example).
_SCHEME = re.compile(r"\b[a-z][a-z0-9+.-]*:(?://|[^\s]*@)", re.IGNORECASE)
_WWW = re.compile(r"\bwww\d*[.\u3002]", re.IGNORECASE)
_DOMAIN = re.compile(r"[^\W_](?:[\w-]*[^\W_])?(?:[.\u3002][^\W\d_]{2,63})+\b")

NameProblem = Literal["control", "length", "address"]


class InvalidName(InputError):
    """A name that is refused, with the kind of problem for a per-field message."""

    def __init__(self, message: str, problem: NameProblem) -> None:
        super().__init__(message)
        self.problem = problem


# A conservative subset of addresses that email-validator accepts unchanged except for the
# domain's case. Matching it skips email-validator (~25 us a call), which is most of the
# cost of a million-row import; anything else, and every rejection, goes through
# email-validator so the messages are its own. tests/test_subscribers.py checks the two
# agree.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FAST_EMAIL = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL_USE_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def normalise_email(value: str) -> str:
    """The normalised address (domain lower-cased, Unicode NFC; local part as typed), or
    InputError naming the value and email-validator's reason. Syntax only: no DNS."""
    text = value.strip()
    match = _FAST_EMAIL.fullmatch(text)
    if (
        match
        and len(text) <= 254
        and len(match[1]) <= 64
        and "--" not in match[2]  # xn-- and other IDNA oddities: leave them to the library
        and match[2].rsplit(".", 1)[1].lower() not in _SPECIAL_USE_TLDS
    ):
        return f"{match[1]}@{match[2].lower()}"
    try:
        return str(validate_email(text, check_deliverability=False).normalized)
    except EmailNotValidError as e:
        reason = str(e).rstrip(".")
        raise InputError(f"{value!r} is not a valid address ({reason})") from e


def validate_name(value: str) -> str:
    """A display name that is safe in a To: header and carries no message: trimmed, at
    most 80 characters, no line breaks or other control characters (header injection), no
    web address (a scheme, "www." or a domain such as evil.example: the name is shown in
    pages and headers, and must not be a way to put a link in front of someone)."""
    name = value.strip()
    bad = _CONTROL.search(name)
    if bad:
        char = bad[0]
        what = "a line break" if char in "\r\n\u2028\u2029\x85" else "a control character"
        raise InvalidName(f"{value!r} contains {what} ({char!r})", "control")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(
            f"{len(name)} characters is too long (at most {MAX_NAME_LENGTH})", "length"
        )
    folded = unicodedata.normalize("NFKC", name)
    found = _SCHEME.search(folded) or _WWW.search(folded) or _DOMAIN.search(folded)
    if found:
        raise InvalidName(
            f"{value!r} contains a web address ({found[0]!r}); a name cannot hold links",
            "address",
        )
    return name


_TIMEZONES: frozenset[str] | None = None


def validate_timezone(value: str) -> str:
    """An IANA timezone name such as 'Europe/London', spelled as the tz database does."""
    global _TIMEZONES
    name = value.strip()
    if _TIMEZONES is None:
        _TIMEZONES = frozenset(available_timezones())
    if name in _TIMEZONES:
        return name
    try:
        ZoneInfo(name)  # a zone the system has but available_timezones() did not list
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"{value!r} is not an IANA timezone name (such as 'Europe/London')"
        ) from None
    return name


def validate_frequency(value: str) -> Frequency:
    frequency = value.strip().lower()
    if frequency not in FREQUENCIES:
        raise InputError(f"{value!r} is not {' or '.join(FREQUENCIES)}")
    return Frequency(frequency)


def envelope_address(email: str) -> tuple[str, bool]:
    """How a stored address travels: (the address with its domain in A-labels, whether its
    local part needs SMTPUTF8). Addresses are stored as email-validator normalises them
    (``user@bücher.de``); the envelope and headers need ``user@xn--bcher-kva.de``. ASCII
    addresses, nearly all of them, pass straight through."""
    if email.isascii():
        return email, False
    try:
        valid = validate_email(email, check_deliverability=False)
    except EmailNotValidError as e:
        raise InputError(f"{email!r} cannot be sent to ({str(e).rstrip('.')})") from e
    if valid.ascii_email:
        return str(valid.ascii_email), False
    return f"{valid.local_part}@{valid.ascii_domain}", True


T = TypeVar("T")


def checked(label: str, check: Callable[[str], T], value: str) -> T:
    """``check(value)``, with ``label`` (the field) in front of any error message."""
    try:
        return check(value)
    except InputError as e:
        raise InputError(f"{label}: {e.message}") from e


def validate_language(value: str) -> str:
    """A reader's language as a BCP 47 tag Babel knows (``es``, ``pt-BR``, ``ar``), or ""
    for the site's language ([site] lang)."""
    tag = value.strip()
    if not tag:
        return ""
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        raise InputError(f"{value!r} is not a language tag (such as 'es' or 'pt-BR')") from None
    return str(locale).replace("_", "-")


def validate_delivery_day(value: str) -> str:
    """A weekly reader's day: ``mon`` .. ``sun`` (a full English name such as ``Thursday``
    is taken too), or "" for the site's day ([schedule] weekly_day)."""
    day = value.strip().lower()
    if not day:
        return ""
    if day[:3] in WEEKDAYS and (len(day) == 3 or _FULL_DAYS[day[:3]] == day):
        return day[:3]
    raise InputError(f"{value!r} is not a day of the week ({', '.join(WEEKDAYS)})")


_FULL_DAYS = dict(
    zip(
        WEEKDAYS,
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        strict=True,
    )
)
