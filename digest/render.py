"""Jinja2 -> MJML -> HTML, the text part, and per-recipient personalisation.

A :class:`Renderer` is built once per run. ``render_variant`` renders and compiles one
content variant once (EMAIL.md point 19) and builds its message bytes with placeholder tokens;
``personalise`` fills in one recipient's values with a single join, cheap enough for
thousands of messages a second (PERF-NOTES.md).
"""

from __future__ import annotations

import html
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import jinja2
from mjml import mjml2html

from digest.config import Settings, templates_dirs
from digest.errors import InputError, TemplateError
from digest.mime import (
    DkimSigner,
    MessageTemplate,
    build_body,
    envelope_sender,
    format_address,
    header_line,
    html_to_7bit,
    list_id,
    list_unsubscribe_value,
    normalise_message_id,
    parse_sender,
    qp_line,
    strip_controls,
)
from digest.models import Article, DigestContent, OutgoingMessage, Recipient
from digest.present import (
    ArticleView,
    SectionView,
    article_view,
    category_summary,
    clean_text,
    drop_oldest,
    make_preheader,
    period_label,
)
from digest.templating import Compiler, Templates
from digest.tokens import (
    PREFERENCES_SALT,
    SIGNATURE_CHARS,
    UNSUBSCRIBE_SALT,
    VERP_PLACEHOLDER,
    IdSigner,
    confirm_url,
    require_secret,
    verp_address,
)

# Gmail clips HTML over about 102 KB (EMAIL.md point 11).
HTML_SIZE_LIMIT = 100_000
ARTICLE_VIEW_CACHE = 5_000
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")


@dataclass(frozen=True)
class Placeholders:
    """Tokens standing in for per-recipient values. A random part per Renderer means article
    text cannot contain them by accident or on purpose. Header ones are address-shaped so the
    template bytes still read as a message."""

    nonce: str

    def _t(self, what: str) -> str:
        return f"zz{self.nonce}{what}zz"

    @property
    def tokens(self) -> dict[str, str]:
        return {
            "to": f"{self._t('rcpt')}@example.invalid",
            "date": self._t("date"),
            "msgid": f"<{self._t('msgid')}@example.invalid>",
            "list_unsub": f"<{self._t('listunsub')}@example.invalid>",
            "unsub_html": self._t("unsubhtml"),
            "prefs_html": self._t("prefshtml"),
            "unsub_text": self._t("unsubtext"),
            "prefs_text": self._t("prefstext"),
        }


@dataclass(frozen=True)
class RenderedVariant:
    """One compiled content variant, ready to personalise."""

    content: DigestContent  # as rendered: ``trimmed`` counts the articles dropped for size
    subject: str
    preheader: str
    html: str  # 7-bit HTML with placeholder tokens
    text: str  # the text part before encoding, with placeholder tokens
    template: MessageTemplate  # the whole message with placeholder tokens
    html_size: int  # encoded HTML part in bytes, allowing for the longest personalised links
    placeholders: Placeholders

    @property
    def article_ids(self) -> tuple[str, ...]:
        return self.content.article_ids

    @property
    def trimmed(self) -> int:
        return self.content.trimmed


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
    ) -> None:
        self.settings = settings
        self.compile_count = 0
        self._compiler = compiler
        self.placeholders = Placeholders(nonce or secrets.token_hex(4))
        if not _HEX_COLOR.fullmatch(settings.site.accent_color):
            raise TemplateError(
                f"site.accent_color: expected a colour like #1a4d8f, "
                f"got {settings.site.accent_color!r}"
            )
        self.templates = Templates(templates_dirs(settings))
        self.dirs = self.templates.dirs
        self.env = self.templates.env
        self._subject = self.templates.from_string(settings.digest.subject, "digest.subject")
        self._dkim = dkim if dkim is not None else DkimSigner.from_settings(settings)
        self._from = format_address(*parse_sender(settings.sender.from_), header="From")
        self._verp = VERP_PLACEHOLDER in settings.sender.return_path
        # With VERP, mail that names no reader (a test copy) returns to the From address.
        self._envelope = (
            parse_sender(settings.sender.from_)[1] if self._verp else envelope_sender(settings)
        )
        self._base = settings.site.url.rstrip("/")
        self._views: dict[Article, ArticleView] = {}
        self._signers: tuple[IdSigner, IdSigner] | None = None

    # -- the digest -------------------------------------------------------------------------

    def _outgoing(self, recipient: Recipient, data: bytes, message_id: str) -> OutgoingMessage:
        """The final message: DKIM-signed over exactly these bytes when configured."""
        if self._dkim is not None:
            data = self._dkim.sign(data)
        return OutgoingMessage(
            sender=self._envelope_for(recipient.subscriber_id),
            recipient=recipient.email,
            data=data,
            message_id=message_id,
            subscriber_id=recipient.subscriber_id,
        )

    def _envelope_for(self, subscriber_id: int) -> str:
        """MAIL FROM: the return path, naming the reader (VERP) when it holds {token}."""
        if self._verp and subscriber_id:
            return verp_address(self.settings, subscriber_id)
        return self._envelope

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
        page = html_to_7bit(self._compile(mjml_source, "digest.mjml.j2"))
        text = _isolate(strip_controls(text), (tokens["unsub_text"], tokens["prefs_text"]))
        for name, template_name, value in (
            ("unsub_html", "digest.mjml.j2", page),
            ("prefs_html", "digest.mjml.j2", page),
            ("unsub_text", "digest.txt.j2", text),
            ("prefs_text", "digest.txt.j2", text),
        ):
            if tokens[name] not in value:
                what = "unsubscribe_url" if name.startswith("unsub") else "preferences_url"
                raise TemplateError(
                    f"{template_name}: must link to {{{{ {what} }}}} (EMAIL.md point 10: every "
                    "digest shows unsubscribe and preferences links)"
                )
        headers = [
            f"From: {self._from}\r\n".encode("ascii"),
            f"To: {tokens['to']}\r\n".encode("ascii"),
            header_line("Subject", subject),
            f"Date: {tokens['date']}\r\n".encode("ascii"),
            f"Message-ID: {tokens['msgid']}\r\n".encode("ascii"),
            *self._reply_to(),
            header_line("List-Id", list_id(self.settings, content.frequency)),
            f"List-Unsubscribe: {tokens['list_unsub']}\r\n".encode("ascii"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            b"Precedence: bulk\r\n",
        ]
        data = b"".join(headers) + build_body(text, page)
        template = MessageTemplate.split(data, {k: v.encode("ascii") for k, v in tokens.items()})
        self._check_slots(template, page, text)
        return RenderedVariant(
            content=content,
            subject=subject,
            preheader=preheader,
            html=page,
            text=text,
            template=template,
            html_size=self._html_part_size(page),
            placeholders=self.placeholders,
        )

    def _check_slots(self, template: MessageTemplate, page: str, text: str) -> None:
        """Every placeholder must come through the MIME build whole: a token split by an
        encoder would go out to every reader as a broken link."""
        tokens = self.placeholders.tokens
        expected = {
            "to": 1,
            "date": 1,
            "msgid": 1,
            "list_unsub": 1,
            "unsub_html": page.count(tokens["unsub_html"]),
            "prefs_html": page.count(tokens["prefs_html"]),
            "unsub_text": text.count(tokens["unsub_text"]),
            "prefs_text": text.count(tokens["prefs_text"]),
        }
        for slot, count in expected.items():
            if template.count(slot) != count:
                raise TemplateError(
                    f"placeholder {slot} appears {template.count(slot)} times in the message, "
                    f"expected {count}: a link would break"
                )

    def _html_part_size(self, page: str) -> int:
        tokens = self.placeholders.tokens
        longest_link = len(self._base) + 3 + 13 + 1 + SIGNATURE_CHARS
        growth = sum(
            page.count(tokens[k]) * max(0, longest_link - len(tokens[k]))
            for k in ("unsub_html", "prefs_html")
        )
        # 7bit: the part is the page itself, with CRLF line endings.
        return len(page) + page.count("\n") + growth

    def _article_view(self, article: Article) -> ArticleView:
        """Views are cached: the same articles recur in many variants of an edition. Keyed
        on the whole (frozen) article, so a changed article is never shown stale."""
        view = self._views.get(article)
        if view is None:
            if len(self._views) >= ARTICLE_VIEW_CACHE:
                self._views.clear()
            view = self._views[article] = article_view(article, fallback_url=self._base + "/")
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
            **self._common_context(),
            "subject": subject,
            "preheader": preheader,
            "frequency": content.frequency,
            "period": period_label(content.starts_at, content.ends_at),
            "sections": sections,
            "categories": names,
            "category_summary": category_summary(names),
            "article_count": content.article_count,
            "trimmed": content.trimmed,
            "more_url": self._base + "/",
            "archive_url": (
                f"{self._base}/archive/{content.edition_id}"
                if content.edition_id is not None
                else ""
            ),
        }

    def _common_context(self) -> dict[str, Any]:
        return {"site": self.settings.site, "accent": self.settings.site.accent_color}

    # -- per recipient ----------------------------------------------------------------------

    def links(self, subscriber_id: int) -> tuple[str, str]:
        """(unsubscribe URL, preferences URL) for one subscriber."""
        if self._signers is None:
            secret = require_secret(self.settings)
            self._signers = (IdSigner(secret, UNSUBSCRIBE_SALT), IdSigner(secret, PREFERENCES_SALT))
        unsub, prefs = self._signers
        return (
            f"{self._base}/u/{unsub.sign(subscriber_id)}",
            f"{self._base}/p/{prefs.sign(subscriber_id)}",
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
            "to": format_address(recipient.name, recipient.email).encode("ascii"),
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
        return self._outgoing(recipient, data, mid)

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

    # -- sign-up mail -----------------------------------------------------------------------

    def render_confirm(
        self,
        recipient: Recipient,
        *,
        categories: Sequence[str],
        message_id: str,
        date: datetime,
    ) -> OutgoingMessage:
        """The double opt-in message with its confirm link."""
        url = confirm_url(self.settings, recipient.subscriber_id, recipient.email)
        context = {"confirm_url": url}
        subject = f"Please confirm your subscription to {self.settings.site.name}"
        return self._single(
            "confirm", subject, context, recipient, categories, message_id=message_id, date=date
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
        context = {"preferences_url": prefs, "unsubscribe_url": unsub}
        subject = f"You are already subscribed to {self.settings.site.name}"
        return self._single(
            "welcome_back",
            subject,
            context,
            recipient,
            categories,
            message_id=message_id,
            date=date,
        )

    def _single(
        self,
        name: str,
        subject: str,
        extra: Mapping[str, str],
        recipient: Recipient,
        categories: Sequence[str],
        *,
        message_id: str,
        date: datetime,
    ) -> OutgoingMessage:
        if date.tzinfo is None:
            raise ValueError("date must be timezone-aware")
        context = {
            **self._common_context(),
            **extra,
            "subject": subject,
            "name": clean_text(recipient.name),
            "categories": [clean_text(c) for c in categories],
        }
        page = html_to_7bit(
            self._compile(self._render(f"{name}.mjml.j2", context), f"{name}.mjml.j2")
        )
        text = strip_controls(self._render(f"{name}.txt.j2", context))
        mid = normalise_message_id(message_id)
        headers = [
            f"From: {self._from}\r\n".encode("ascii"),
            f"To: {format_address(recipient.name, recipient.email)}\r\n".encode("ascii"),
            header_line("Subject", subject),
            f"Date: {format_datetime(date)}\r\n".encode("ascii"),
            f"Message-ID: {mid}\r\n".encode("ascii"),
            *self._reply_to(),
            # Sent because someone asked, just now: auto-responders should not answer.
            b"Auto-Submitted: auto-generated\r\n",
        ]
        data = b"".join(headers) + build_body(text, page)
        return self._outgoing(recipient, data, mid)

    # -- plumbing ---------------------------------------------------------------------------

    def _reply_to(self) -> list[bytes]:
        if not self.settings.sender.reply_to:
            return []
        name, address = parse_sender(self.settings.sender.reply_to)
        return [f"Reply-To: {format_address(name, address, header='Reply-To')}\r\n".encode("ascii")]

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        return self.templates.render(name, context)

    def _compile(self, source: str, name: str) -> str:
        self.compile_count += 1
        return self.templates.compile(self._compiler, source, name)


def _isolate(text: str, tokens: Sequence[str]) -> str:
    """Put each placeholder on a line of its own: the text part is quoted-printable, and a
    token that shares a line could be split by a soft line break or push the line past 76."""
    for token in tokens:
        text = re.sub(rf"[ \t]*{token}[ \t]*", f"\n{token}\n", text)
        text = text.replace(f"\n\n{token}", f"\n{token}").replace(f"{token}\n\n", f"{token}\n")
    return text
