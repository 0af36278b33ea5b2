"""Jinja2 -> MJML -> HTML, the text part, and per-recipient personalisation.

A :class:`Renderer` is built once per run. ``render_variant`` renders and compiles one
content variant once (docs/email.md rule 19) and builds its message bytes with placeholder tokens;
``personalise`` fills in one recipient's values with a single join, cheap enough for
thousands of messages a second (docs/performance.md, Rendering).
"""

from __future__ import annotations

import html
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import jinja2
from mjml import mjml2html

from digest.config import Settings, templates_dirs
from digest.errors import InputError, TemplateError
from digest.links import Links
from digest.mime import (
    DkimSigner,
    MessageTemplate,
    build_body,
    format_address,
    header_line,
    html_to_7bit,
    list_id,
    list_unsubscribe_value,
    normalise_message_id,
    qp_line,
    strip_controls,
)
from digest.models import Article, DigestContent, OutgoingMessage, Recipient
from digest.render.envelope import Envelope
from digest.render.present import (
    ArticleView,
    SectionView,
    article_view,
    category_summary,
    drop_oldest,
    make_preheader,
    period_label,
)
from digest.render.system import SystemMails, common_context
from digest.render.templates import Compiler, Templates
from digest.render.variant import (
    HTML_SIZE_LIMIT,
    Placeholders,
    RenderedVariant,
    check_links,
    check_slots,
    html_part_size,
    isolate,
)

ARTICLE_VIEW_CACHE = 5_000
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")


class Renderer:
    """Templates and settings for one run. ``compile_count`` counts MJML compiles, so tests and
    benchmarks can see that many recipients of one variant cost one compile."""

    def __init__(
        self,
        settings: Settings,
        *,
        compiler: Compiler = mjml2html,
        dkim: DkimSigner | None = None,
        nonce: str | None = None,
        links: Links | None = None,
        signing: bool = True,
    ) -> None:
        """``signing=False``: messages come out unsigned even with [dkim] set, for a send
        that signs them itself in another process (digest/deliver/signing.py)."""
        self.settings = settings
        self.placeholders = Placeholders(nonce or secrets.token_hex(4))
        if not _HEX_COLOR.fullmatch(settings.site.accent_color):
            raise TemplateError(
                f"site.accent_color: expected a colour like #1a4d8f, "
                f"got {settings.site.accent_color!r}"
            )
        self.templates = Templates(templates_dirs(settings), compiler=compiler)
        self.dirs = self.templates.dirs
        self.env = self.templates.env
        self._subject = self.templates.from_string(settings.digest.subject, "digest.subject")
        if dkim is None and signing:
            dkim = DkimSigner.from_settings(settings)
        self.envelope = Envelope(settings, dkim if signing else None)
        self.site_links = links if links is not None else Links.from_settings(settings)
        self.system = SystemMails(settings, self.templates, self.envelope)
        self._views: dict[Article, ArticleView] = {}

    @property
    def compile_count(self) -> int:
        """MJML compiles so far, digests and system mails alike."""
        return self.templates.compile_count

    # -- the digest -------------------------------------------------------------------------

    def render_variant(
        self, content: DigestContent, *, subject_prefix: str = ""
    ) -> RenderedVariant:
        """Render and compile ``content`` once, trimming the oldest articles while the HTML
        part would pass Gmail's clipping limit."""
        if content.article_count == 0:
            raise InputError("the digest has no articles: nothing to render")
        subject = subject_prefix + self.subject_for(content)
        # The reader's categories, also those trimming empties: the footer says why they get it.
        categories = [s.category for s in content.sections]
        current = content
        while True:
            variant = self._render_once(current, subject, categories)
            if variant.html_size <= HTML_SIZE_LIMIT:
                return variant
            count = current.article_count
            if count <= 1:
                raise TemplateError(
                    f"digest.mjml.j2: one article alone makes {variant.html_size} bytes of "
                    f"HTML, over the {HTML_SIZE_LIMIT} byte limit"
                )
            # Size per article overstates an article's own share (the frame is in it too),
            # so this never drops more than needed; the loop takes the rest.
            excess = variant.html_size - HTML_SIZE_LIMIT
            drop = min(count - 1, max(1, math.ceil(excess / (variant.html_size / count))))
            current = drop_oldest(current, drop)

    def subject_for(self, content: DigestContent) -> str:
        names = [s.category for s in content.sections]
        try:
            raw = self._subject.render(
                site=self.settings.site,
                frequency=content.frequency,
                article_count=content.article_count + content.trimmed,
                categories=names,
                category_summary=category_summary(names),
            )
        except jinja2.TemplateError as e:
            raise TemplateError(f"digest.subject: {e}") from e
        subject = " ".join(strip_controls(raw).split())
        return subject if len(subject) <= 900 else subject[:899] + "…"

    def _render_once(
        self, content: DigestContent, subject: str, categories: list[str]
    ) -> RenderedVariant:
        tokens = self.placeholders.tokens
        preheader = make_preheader(content, subject)
        context = self._digest_context(content, subject, preheader, categories)
        mjml_source = self._render(
            "digest.mjml.j2",
            {
                **context,
                "unsubscribe_url": tokens["unsub_html"],
                "preferences_url": tokens["prefs_html"],
            },
        )
        text = self._render(
            "digest.txt.j2",
            {
                **context,
                "unsubscribe_url": tokens["unsub_text"],
                "preferences_url": tokens["prefs_text"],
            },
        )
        page = html_to_7bit(self.templates.compile(mjml_source, "digest.mjml.j2"))
        text = isolate(strip_controls(text), (tokens["unsub_text"], tokens["prefs_text"]))
        check_links(tokens, page, text)
        data = self._headers(subject, content.frequency) + build_body(text, page)
        template = MessageTemplate.split(data, {k: v.encode("ascii") for k, v in tokens.items()})
        check_slots(template, tokens, page, text)
        return RenderedVariant(
            content=content,
            subject=subject,
            preheader=preheader,
            html=page,
            text=text,
            template=template,
            html_size=html_part_size(tokens, page, self.site_links.longest_subscriber_link()),
            placeholders=self.placeholders,
        )

    def _headers(self, subject: str, frequency: str) -> bytes:
        """The digest's header block, with placeholders for the per-recipient values."""
        tokens = self.placeholders.tokens
        headers = [
            f"From: {self.envelope.from_header}\r\n".encode("ascii"),
            f"To: {tokens['to']}\r\n".encode("ascii"),
            header_line("Subject", subject),
            f"Date: {tokens['date']}\r\n".encode("ascii"),
            f"Message-ID: {tokens['msgid']}\r\n".encode("ascii"),
            *self.envelope.reply_to(),
            header_line("List-Id", list_id(self.settings, frequency)),
            f"List-Unsubscribe: {tokens['list_unsub']}\r\n".encode("ascii"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            b"Precedence: bulk\r\n",
        ]
        return b"".join(headers)

    def _article_view(self, article: Article) -> ArticleView:
        """Views are cached: the same articles recur in many variants of an edition. Keyed
        on the whole (frozen) article, so a changed article is never shown stale."""
        view = self._views.get(article)
        if view is None:
            if len(self._views) >= ARTICLE_VIEW_CACHE:
                self._views.clear()
            view = self._views[article] = article_view(article, fallback_url=self.site_links.home())
        return view

    def _digest_context(
        self, content: DigestContent, subject: str, preheader: str, names: list[str]
    ) -> dict[str, Any]:
        sections = [
            SectionView(
                s.category,
                s.slug,
                tuple(self._article_view(a) for a in s.articles),
            )
            for s in content.sections
            if s.articles
        ]
        return {
            **common_context(self.settings),
            "subject": subject,
            "preheader": preheader,
            "frequency": content.frequency,
            "period": period_label(content.starts_at, content.ends_at),
            "sections": sections,
            "categories": names,
            "category_summary": category_summary(names),
            "article_count": content.article_count,
            "trimmed": content.trimmed,
            "more_url": self.site_links.home(),
            "archive_url": (
                self.site_links.archive(content.edition_id)
                if content.edition_id is not None
                else ""
            ),
        }

    # -- per recipient ----------------------------------------------------------------------

    def links(self, subscriber_id: int) -> tuple[str, str]:
        """(unsubscribe URL, preferences URL) for one subscriber."""
        return self.site_links.unsubscribe(subscriber_id), self.site_links.preferences(
            subscriber_id
        )

    def personalise(
        self,
        variant: RenderedVariant,
        recipient: Recipient,
        *,
        message_id: str,
        date: datetime,
    ) -> OutgoingMessage:
        """The bytes for one recipient: placeholders replaced with values encoded for where
        they land, then DKIM-signed when configured."""
        if date.tzinfo is None:
            raise ValueError("date must be timezone-aware")
        unsub, prefs = self.links(recipient.subscriber_id)
        mid = normalise_message_id(message_id)
        values = {
            "to": format_address(recipient.name, recipient.email, utf8=recipient.smtputf8).encode(
                "utf-8"
            ),
            "date": format_datetime(date).encode("ascii"),
            "msgid": mid.encode("ascii"),
            "list_unsub": list_unsubscribe_value(
                unsub, self.settings.sender.unsubscribe_mailto
            ).encode("ascii"),
            "unsub_html": html.escape(unsub).encode("ascii"),
            "prefs_html": html.escape(prefs).encode("ascii"),
            "unsub_text": qp_line(unsub),
            "prefs_text": qp_line(prefs),
        }
        data = variant.template.fill(values)
        return self.envelope.outgoing(recipient, data, mid, variant.subject)

    def render_html(self, variant: RenderedVariant, recipient: Recipient | None = None) -> str:
        """The HTML one recipient gets (subscriber 0's links without one), for previews."""
        unsub, prefs = self.links(recipient.subscriber_id if recipient else 0)
        tokens = variant.placeholders.tokens
        return variant.html.replace(tokens["unsub_html"], html.escape(unsub)).replace(
            tokens["prefs_html"], html.escape(prefs)
        )

    def render_text(self, variant: RenderedVariant, recipient: Recipient | None = None) -> str:
        unsub, prefs = self.links(recipient.subscriber_id if recipient else 0)
        tokens = variant.placeholders.tokens
        return variant.text.replace(tokens["unsub_text"], unsub).replace(
            tokens["prefs_text"], prefs
        )

    # -- sign-up mail: both through SystemMails.render ----------------------------------

    def render_confirm(
        self,
        recipient: Recipient,
        *,
        categories: Sequence[str],
        message_id: str,
        date: datetime,
    ) -> OutgoingMessage:
        """The double opt-in message with its confirm link."""
        url = self.site_links.confirm(recipient.subscriber_id, recipient.email)
        return self.system.render(
            "confirm",
            recipient,
            {"confirm_url": url},
            categories=categories,
            message_id=message_id,
            date=date,
        )

    def render_welcome_back(
        self,
        recipient: Recipient,
        *,
        categories: Sequence[str],
        message_id: str,
        date: datetime,
    ) -> OutgoingMessage:
        """For an active reader who signs up again: no change, here is your preferences link."""
        unsub, prefs = self.links(recipient.subscriber_id)
        return self.system.render(
            "welcome_back",
            recipient,
            {"preferences_url": prefs, "unsubscribe_url": unsub},
            categories=categories,
            message_id=message_id,
            date=date,
        )

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        return self.templates.render(name, context)
