"""Reading the timezone, weekly day and pause fields of the sign-up and preferences forms
(templates/web/_choices.html) into clean values, with a message per field to fix."""

from __future__ import annotations

import functools
from zoneinfo import available_timezones

from werkzeug.datastructures import MultiDict

from digest.config import WEEKDAYS
from digest.errors import InputError
from digest.validate import validate_delivery_day, validate_timezone
from digest.web.forms import FormState
from digest.web.language import _, day_names

PAUSES = ("", "0", "2", "4", "8")


@functools.cache
def zone_names() -> tuple[str, ...]:
    """The IANA zones a reader can pick: Area/City names and UTC, sorted."""
    names = {z for z in available_timezones() if "/" in z and not z.startswith("Etc/")}
    return ("UTC", *sorted(names - {"Factory"}))


def read_timezone(form: MultiDict[str, str], state: FormState) -> str | None:
    """The zone chosen (None when the form has no such field: an embedded sign-up form)."""
    if "timezone" not in form:
        return None
    raw = form.get("timezone", "")
    state.timezone = raw
    try:
        return validate_timezone(raw)
    except InputError:
        state.errors["timezone"] = _("Choose your timezone from the list.")
        return None


def read_pause(form: MultiDict[str, str], state: FormState) -> int | None:
    """Weeks to pause (0: resume now), or None to leave it as it is."""
    raw = form.get("pause", "")
    state.pause = raw
    if raw not in PAUSES:
        state.errors["pause"] = _("Choose a break of 2, 4 or 8 weeks, or none.")
        return None
    return int(raw) if raw else None


def read_delivery_day(form: MultiDict[str, str], state: FormState, site_day: str) -> str | None:
    """The weekly day chosen: "" for the site's own day (so the reader follows it), else
    mon..sun; None when the form has no such field (an embedded sign-up form)."""
    if "delivery_day" not in form:
        return None
    raw = form.get("delivery_day", "")
    try:
        day = validate_delivery_day(raw)
    except InputError:
        state.delivery_day = raw[:20]
        state.errors["delivery_day"] = _("Choose a day of the week from the list.")
        return None
    state.delivery_day = "" if day == site_day else day
    return state.delivery_day


def day_choices(site_day: str) -> list[tuple[str, str]]:
    """(value, name) for the day select, Monday first; the site's day has the value ""."""
    return [
        ("" if day == site_day else day, name)
        for day, name in zip(WEEKDAYS, day_names(), strict=True)
    ]
