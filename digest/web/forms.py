"""Reading the sign-up and preferences forms: raw values in, clean values or per-field
messages out. Every check reuses digest.validate, so the web accepts exactly
what the CLI and the CSV import accept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from werkzeug.datastructures import MultiDict

from digest.app import Choices
from digest.errors import InputError
from digest.models import Category, Frequency
from digest.render.i18n import available_languages
from digest.validate import (
    MAX_NAME_LENGTH,
    InvalidName,
    normalise_email,
    validate_frequency,
    validate_name,
)
from digest.web.language import N_, _

MAX_EMAIL_LENGTH = 254  # RFC 5321's path limit less the angle brackets
HONEYPOT_FIELD = "website"
_REPLACEMENT = "\ufffd"
_NAME_PROBLEMS = {
    "length": N_("Your name can have at most %(max)d characters."),
    "control": N_("Your name cannot contain line breaks or control characters."),
    "address": N_("Your name cannot contain a web address or link (such as www. or example.com)."),
}


@dataclass
class FormState:
    """What a form page shows: the values as typed (to fill the fields again) and one
    message per field that needs fixing."""

    email: str = ""
    name: str = ""
    categories: list[str] = field(default_factory=list)  # slugs
    frequency: str = "weekly"
    timezone: str = "UTC"
    pause: str = ""  # "", or weeks: "2", "4", "8"; "0" resumes
    language: str = ""  # "" for the site's language
    delivery_day: str = ""  # "" for the site's weekly day, else mon..sun
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def undecodable(mimetype: str, body: bytes, form: MultiDict[str, str]) -> bool:
    """True when a form body is not UTF-8. werkzeug does not say so itself: it drops an
    url-encoded body whose bytes are not UTF-8 (an empty form), keeps a percent-escape
    that decodes to bad UTF-8 as literal text ("caf%E9" is a valid-looking address), and
    decodes multipart fields with errors='replace' (U+FFFD, which no one types)."""
    if mimetype == "application/x-www-form-urlencoded":
        try:
            parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            return True
        return False
    return any(_REPLACEMENT in k or _REPLACEMENT in v for k, v in form.items(multi=True))


def read_email(raw: str) -> tuple[str, str | None]:
    """(normalised address, None) or (raw, message)."""
    text = raw.strip()
    if not text:
        return raw, _("Enter your email address.")
    if len(text) > MAX_EMAIL_LENGTH:
        return raw[:MAX_EMAIL_LENGTH], _(
            "An email address is at most %(max)d characters; this one has %(num)d.",
            max=MAX_EMAIL_LENGTH,
            num=len(text),
        )
    try:
        return normalise_email(text), None
    except InputError:
        # The validator's reason is English (digest.validate); the page says what to type.
        return raw, _("Enter an email address like name@example.com.")


def read_choices(
    form: MultiDict[str, str], categories: Sequence[Category], state: FormState
) -> Choices | None:
    """Name, categories and frequency from ``form`` into ``state``; the clean values, or
    None with ``state.errors`` filled in."""
    # Kept for the page to show again: cut, so a 10 KB "name" is not echoed back whole.
    state.name = form.get("name", "")[: MAX_NAME_LENGTH * 2]
    try:
        name = validate_name(state.name)
    except InvalidName as e:
        name = ""
        state.errors["name"] = _(_NAME_PROBLEMS[e.problem], max=MAX_NAME_LENGTH)
    by_slug = {c.slug: c for c in categories}
    picked: list[Category] = []
    unknown: list[str] = []
    for slug in form.getlist("categories"):
        category = by_slug.get(slug.strip())
        if category is None:
            unknown.append(slug[:60])
        elif category not in picked:
            picked.append(category)
    state.categories = [c.slug for c in picked]
    if unknown:
        state.errors["categories"] = _(
            "We have no category called %(names)s. Choose from the list.",
            names=", ".join(repr(u) for u in unknown[:3]),
        )
    elif not picked:
        state.errors["categories"] = _("Choose at least one category.")
    raw_frequency = form.get("frequency", "weekly")
    try:
        frequency = validate_frequency(raw_frequency)
        state.frequency = frequency
    except InputError:
        frequency = Frequency.WEEKLY
        state.errors["frequency"] = _("Choose weekly or daily.")
    language = form.get("language")
    if language is not None:
        state.language = language.strip()[:20]
        if state.language not in ("", *available_languages()):
            state.errors["language"] = _("Choose a language from the list.")
    if state.errors:
        return None
    # Keep the site's order, whatever order the browser sent the boxes in.
    ordered = [c for c in categories if c in picked]
    return Choices(
        name=name,
        category_ids=tuple(c.id for c in ordered),
        category_names=tuple(c.name for c in ordered),
        frequency=frequency,
        language=None if language is None else state.language,
    )
