"""System mails: one message to one person, sent because they just asked for it (the confirm
request, "you are already subscribed"). Every one goes through :meth:`SystemMails.render`:
templates ``<name>.mjml.j2`` and ``<name>.txt.j2``, the subject from :data:`SUBJECTS`.

A system mail is sent to whatever address was typed into the sign-up form, so it carries
nothing else the stranger typed: no name in the To header, no greeting by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from digest.config import Settings
from digest.mime import (
    build_body,
    format_address,
    header_line,
    html_to_7bit,
    normalise_message_id,
    strip_controls,
)
from digest.models import OutgoingMessage, Recipient
from digest.render.envelope import Envelope
from digest.render.i18n import N_, direction
from digest.render.present import clean_text
from digest.render.templates import Templates

# The subject of each system mail; ``{site}`` is the site's name.
SUBJECTS = {
    "confirm": N_("Please confirm your subscription to {site}"),
    "welcome_back": N_("You are already subscribed to {site}"),
    "welcome": N_("Welcome to {site}"),
}


def common_context(settings: Settings, lang: str | None = None) -> dict[str, Any]:
    """What every template sees: the site, the accent colour, and the language with its
    direction and the alignment that goes with it (start and end sides)."""
    lang = lang or settings.site.lang
    rtl = direction(lang) == "rtl"
    return {
        "site": settings.site,
        "accent": settings.site.accent_color,
        "lang": lang,
        "dir": "rtl" if rtl else "ltr",
        "align": "right" if rtl else "left",
        "align_end": "left" if rtl else "right",
    }


class SystemMails:
    """Renders any system mail by name, with its own context (its links)."""

    def __init__(self, settings: Settings, templates: Templates, envelope: Envelope) -> None:
        self.settings = settings
        self.templates = templates
        self.envelope = envelope

    def subject(self, name: str) -> str:
        return self.templates.translations.gettext(SUBJECTS[name]).format(
            site=self.settings.site.name
        )

    def context(
        self,
        name: str,
        recipient: Recipient,
        context: Mapping[str, str],
        categories: Sequence[str],
    ) -> dict[str, Any]:
        """What both templates of the ``name`` mail see."""
        return {
            **common_context(self.settings),
            **context,
            "subject": self.subject(name),
            # Never the name: whoever signs up types it, and these mails go to an address
            # that did not choose it (a phishing channel). Kept as a variable, always empty,
            # so an editor's template that still greets by name renders.
            "name": "",
            "categories": [clean_text(c) for c in categories],
        }

    def render(
        self,
        name: str,
        recipient: Recipient,
        context: Mapping[str, str],
        *,
        categories: Sequence[str],
        message_id: str,
        date: datetime,
    ) -> OutgoingMessage:
        """The ``name`` mail for ``recipient``; ``context`` holds what only this mail needs."""
        if date.tzinfo is None:
            raise ValueError("date must be timezone-aware")
        subject = self.subject(name)
        full = self.context(name, recipient, context, categories)
        mjml_source = self.templates.render(f"{name}.mjml.j2", full)
        page = html_to_7bit(self.templates.compile(mjml_source, f"{name}.mjml.j2"))
        text = strip_controls(self.templates.render(f"{name}.txt.j2", full))
        mid = normalise_message_id(message_id)
        headers = [
            f"From: {self.envelope.from_header}\r\n".encode("ascii"),
            f"To: {format_address('', recipient.email)}\r\n".encode("ascii"),
            header_line("Subject", subject),
            f"Date: {format_datetime(date)}\r\n".encode("ascii"),
            f"Message-ID: {mid}\r\n".encode("ascii"),
            *self.envelope.reply_to(),
            # Sent because someone asked, just now: auto-responders should not answer.
            b"Auto-Submitted: auto-generated\r\n",
        ]
        data = b"".join(headers) + build_body(text, page)
        return self.envelope.outgoing(recipient, data, mid, subject)
