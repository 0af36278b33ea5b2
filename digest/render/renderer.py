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
from markupsafe import Markup
from mjml import mjml2html

from digest.config import Settings, templates_dirs
from digest.errors import InputError, TemplateError
from digest.links import Links
from digest.mime import (
    DkimSigner,
    MessageTemplate,
    build_body,
    feedback_id,
    format_address,
    header_line,
    html_to_7bit,
    list_id_line,
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
from digest.render.tracking import Tracker, join_soft_breaks
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
        self.lang = settings.site.lang
        self.templates = Templates(templates_dirs(settings), compiler=compiler, lang=self.lang)
        self.dirs = self.templates.dirs
        self.env = self.templates.env
        self._subject = self.templates.from_string(settings.digest.subject, "digest.subject")
        if dkim is None and signing:
            dkim = DkimSigner.from_settings(settings)
        self.envelope = Envelope(settings, dkim if signing else None)
        self.site_links = links if links is not None else Links.from_settings(settings)
        self.system = SystemMails(settings, self.templates, self.envelope)
        self.tracker = Tracker(
            settings.tracking, self.site_links, self.placeholders.tokens["track"]
        )
        self._views: dict[tuple[Article, str], ArticleView] = {}
        # One template environment (and its catalog) per reader language, built on first use;
        # the site's language is ``self.templates``.
        self._languages: dict[str, tuple[Templates, jinja2.Template]] = {
            self.lang: (self.templates, self._subject)
        }

    @property
    def compile_count(self) -> int:
        """MJML compiles so far, digests and system mails alike, in every language."""
        return sum(t.compile_count for t, _ in self._languages.values())

    def language(self, lang: str) -> tuple[Templates, jinja2.Template]:
        """The templates and subject template of ``lang`` ("" is the site's language)."""
        lang = lang or self.lang
        found = self._languages.get(lang)
        if found is None:
            templates = Templates(self.dirs, compiler=self.templates.compiler, lang=lang)
            subject = templates.from_string(self.settings.digest.subject, "digest.subject")
            found = self._languages[lang] = (templates, subject)
        return found

    # -- the digest -------------------------------------------------------------------------

    def render_variant(
        self, content: DigestContent, *, subject_prefix: str = ""
    ) -> RenderedVariant:
        """Render and compile ``content`` once, trimming the oldest articles while the HTML
        part would pass Gmail's clipping limit."""
        if content.article_count == 0:
            raise InputError("the digest has no articles: nothing to render")
        # The reader's categories, also those trimming empties: the footer says why they get it.
        categories = [s.category for s in content.sections]
        current = content
        while True:
            # The subject counts what this message holds, so it follows the trimming.
            subject = subject_prefix + self.subject_for(current)
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
        if content.subject:  # the editor's own, for this edition
            subject = " ".join(strip_controls(content.subject).split())
            return subject if len(subject) <= 900 else subject[:899] + "…"
        names = [s.category for s in content.sections]
        templates, subject_template = self.language(content.language)
        try:
            raw = subject_template.render(
                site=self.settings.site,
                frequency=content.frequency,
                article_count=content.article_count,
                categories=names,
                category_summary=category_summary(names, templates.translations),
            )
        except jinja2.TemplateError as e:
            raise TemplateError(f"digest.subject: {e}") from e
        subject = " ".join(strip_controls(raw).split())
        return subject if len(subject) <= 900 else subject[:899] + "…"

    def _render_once(
        self, content: DigestContent, subject: str, categories: list[str]
    ) -> RenderedVariant:
        tokens = self.placeholders.tokens
        preheader, html_context, text_context = self._part_contexts(content, subject, categories)
        templates = self.language(content.language)[0]
        mjml_source = templates.render("digest.mjml.j2", html_context)
        text = templates.render("digest.txt.j2", text_context)
        page = html_to_7bit(templates.compile(mjml_source, "digest.mjml.j2"))
        page = self.tracker.page(page, content.edition_id)
        text = isolate(
            strip_controls(text),
            (tokens["unsub_text"], tokens["prefs_text"], tokens["track"], tokens["view_text"]),
        )
        check_links(tokens, page, text)
        data = self._headers(subject, content) + build_body(text, page)
        if self.tracker.per_reader(content.edition_id):
            data = join_soft_breaks(data, tokens["track"].encode("ascii"))
        template = MessageTemplate.split(data, {k: v.encode("ascii") for k, v in tokens.items()})
        check_slots(template, tokens, page, text)
        return RenderedVariant(
            content=content,
            subject=subject,
            preheader=preheader,
            html=page,
            text=text,
            template=template,
            html_size=html_part_size(
                tokens,
                page,
                self.site_links.longest_subscriber_link(),
                self.site_links.longest_reader_part(),
                self.site_links.longest_view_link(),
            ),
            placeholders=self.placeholders,
        )

    def part_contexts(self, content: DigestContent) -> tuple[dict[str, Any], dict[str, Any]]:
        """What digest.mjml.j2 and digest.txt.j2 see for ``content`` (links as placeholder
        tokens), for the template check (digest.render.guard)."""
        subject = self.subject_for(content)
        _, html_context, text_context = self._part_contexts(
            content, subject, [s.category for s in content.sections]
        )
        return html_context, text_context

    def _part_contexts(
        self, content: DigestContent, subject: str, categories: list[str]
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        tokens = self.placeholders.tokens
        preheader = make_preheader(content, subject)
        context = self._digest_context(content, subject, preheader, categories)
        # "View in browser" names an edition: without one (the template check's contexts
        # without an edition) there is no copy on the web to link to.
        viewable = content.edition_id is not None
        html_context = {
            **context,
            "unsubscribe_url": tokens["unsub_html"],
            "preferences_url": tokens["prefs_html"],
            "view_url": tokens["view_html"] if viewable else "",
        }
        text_context = {
            **context,
            "unsubscribe_url": tokens["unsub_text"],
            "preferences_url": tokens["prefs_text"],
            "view_url": tokens["view_text"] if viewable else "",
        }
        return preheader, html_context, text_context

    def _headers(self, subject: str, content: DigestContent) -> bytes:
        """The digest's header block, with placeholders for the per-recipient values."""
        tokens = self.placeholders.tokens
        frequency = content.frequency
        slugs = [s.slug for s in content.sections]
        headers = [
            f"From: {self.envelope.from_header}\r\n".encode("ascii"),
            f"To: {tokens['to']}\r\n".encode("ascii"),
            header_line("Subject", subject),
            f"Date: {tokens['date']}\r\n".encode("ascii"),
            f"Message-ID: {tokens['msgid']}\r\n".encode("ascii"),
            *self.envelope.reply_to(),
            list_id_line(self.settings, frequency),
            header_line(
                "Feedback-ID", feedback_id(self.settings, frequency, slugs, content.edition_id)
            ),
            f"List-Unsubscribe: {tokens['list_unsub']}\r\n".encode("ascii"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            b"Precedence: bulk\r\n",
        ]
        return b"".join(headers)

    def _article_view(self, article: Article, lang: str) -> ArticleView:
        """Views are cached: the same articles recur in many variants of an edition. Keyed
        on the whole (frozen) article and the language, so a changed article is never shown
        stale."""
        view = self._views.get((article, lang))
        if view is None:
            if len(self._views) >= ARTICLE_VIEW_CACHE:
                self._views.clear()
            view = self._views[(article, lang)] = article_view(
                article, fallback_url=self.site_links.home(), lang=lang
            )
        return view

    def _digest_context(
        self, content: DigestContent, subject: str, preheader: str, names: list[str]
    ) -> dict[str, Any]:
        links = self.site_links
        lang = content.language or self.lang
        translations = self.language(lang)[0].translations
        sections = [
            SectionView(
                s.category,
                s.slug,
                tuple(
                    self.tracker.article(
                        self._article_view(a, lang), content.edition_id, s.category_id
                    )
                    for a in s.articles
                ),
                total=max(s.total, len(s.articles)),
                more_url=(
                    links.archive_section(content.edition_id, s.slug)
                    if content.edition_id is not None
                    else links.home()
                ),
            )
            for s in content.sections
            if s.articles
        ]
        return {
            **common_context(self.settings, lang),
            "subject": subject,
            "preheader": preheader,
            "frequency": content.frequency,
            "period": period_label(content.starts_at, content.ends_at, lang),
            "sections": sections,
            "categories": names,
            "category_summary": category_summary(names, translations),
            "article_count": content.article_count,
            "trimmed": content.trimmed,
            # Sanitised by digest.render.intro (nh3): markup, not text.
            "intro_html": Markup(content.intro_html),
            "intro_text": content.intro_text,
            "more_url": self.site_links.home(),
            "archive_url": (
                self.site_links.archive(content.edition_id)
                if content.edition_id is not None
                else ""
            ),
        }

    # -- per recipient ----------------------------------------------------------------------

    def links(self, subscriber_id: int, edition_id: int | None = None) -> tuple[str, str]:
        """(unsubscribe URL, preferences URL) for one subscriber; the unsubscribe link of an
        edition's digest names the edition (docs/reports.md)."""
        return self.site_links.unsubscribe(subscriber_id, edition_id), self.site_links.preferences(
            subscriber_id
        )

    def view_link(self, variant: RenderedVariant, subscriber_id: int) -> str:
        """This reader's copy of the variant's edition on the web; the site's home when
        the variant has no edition (its parts then carry no view link to fill)."""
        edition_id = variant.content.edition_id
        if edition_id is None:
            return self.site_links.home()
        return self.site_links.view(subscriber_id, edition_id)

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
        unsub, prefs = self.links(recipient.subscriber_id, variant.content.edition_id)
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
        edition_id = variant.content.edition_id
        if self.tracker.per_reader(edition_id):
            # QP-safe characters only, under 76: the same bytes suit both parts.
            reader = self.tracker.reader_value(edition_id, recipient.subscriber_id)
            values["track"] = reader.encode("ascii")
        view = self.view_link(variant, recipient.subscriber_id)
        values["view_html"] = html.escape(view).encode("ascii")
        values["view_text"] = qp_line(view)
        data = variant.template.fill(values)
        return self.envelope.outgoing(recipient, data, mid, variant.subject)

    def render_html(self, variant: RenderedVariant, recipient: Recipient | None = None) -> str:
        """The HTML one recipient gets (subscriber 0's links without one), for previews."""
        subscriber_id = recipient.subscriber_id if recipient else 0
        unsub, prefs = self.links(subscriber_id, variant.content.edition_id)
        view = self.view_link(variant, subscriber_id)
        tokens = variant.placeholders.tokens
        return (
            variant.html.replace(tokens["unsub_html"], html.escape(unsub))
            .replace(tokens["prefs_html"], html.escape(prefs))
            # A preview never names a reader in tracked links (docs/tracking.md): an editor's
            # click in it must not count as the reader's.
            .replace(tokens["track"], "")
            .replace(tokens["view_html"], html.escape(view))
        )

    def render_text(self, variant: RenderedVariant, recipient: Recipient | None = None) -> str:
        subscriber_id = recipient.subscriber_id if recipient else 0
        unsub, prefs = self.links(subscriber_id, variant.content.edition_id)
        view = self.view_link(variant, subscriber_id)
        tokens = variant.placeholders.tokens
        # The text keeps the token on a line of its own (isolate): joined, the URL is one
        # line, naming no reader (as render_html).
        return (
            variant.text.replace(tokens["unsub_text"], unsub)
            .replace(tokens["prefs_text"], prefs)
            .replace("\n" + tokens["track"], "")
            .replace(tokens["view_text"], view)
        )

    # -- sign-up mail: both through SystemMails.render ----------------------------------

    def render_confirm(
        self,
        recipient: Recipient,
        *,
        request_id: int,
        nonce: str,
        categories: Sequence[str],
        message_id: str,
        date: datetime,
    ) -> OutgoingMessage:
        """The double opt-in message with the link that confirms sign-up request
        ``request_id`` (``nonce`` is the one stored with it)."""
        url = self.site_links.confirm(request_id, nonce, recipient.email)
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
        return self._reader_mail("welcome_back", recipient, categories, message_id, date)

    def render_welcome(
        self,
        recipient: Recipient,
        *,
        categories: Sequence[str],
        message_id: str,
        date: datetime,
    ) -> OutgoingMessage:
        """For a reader who has just confirmed ([web] welcome = "short")."""
        return self._reader_mail("welcome", recipient, categories, message_id, date)

    def _reader_mail(
        self,
        name: str,
        recipient: Recipient,
        categories: Sequence[str],
        message_id: str,
        date: datetime,
    ) -> OutgoingMessage:
        """A system mail to a subscribed reader: it carries their preferences and
        unsubscribe links."""
        unsub, prefs = self.links(recipient.subscriber_id)
        return self.system.render(
            name,
            recipient,
            {"preferences_url": prefs, "unsubscribe_url": unsub},
            categories=categories,
            message_id=message_id,
            date=date,
        )

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        return self.templates.render(name, context)
