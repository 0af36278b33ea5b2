"""Reading the timezone and pause fields of the sign-up and preferences forms
(templates/web/_choices.html) into clean values, with a message per field to fix."""

from __future__ import annotations

import functools
from zoneinfo import available_timezones

from werkzeug.datastructures import MultiDict

from digest.errors import InputError
from digest.validate import validate_timezone
from digest.web.forms import FormState

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
        state.errors["timezone"] = "Choose your timezone from the list."
        return None


def read_pause(form: MultiDict[str, str], state: FormState) -> int | None:
    """Weeks to pause (0: resume now), or None to leave it as it is."""
    raw = form.get("pause", "")
    state.pause = raw
    if raw not in PAUSES:
        state.errors["pause"] = "Choose a break of 2, 4 or 8 weeks, or none."
        return None
    return int(raw) if raw else None
