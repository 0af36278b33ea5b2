"""A rendered content variant: its message bytes with placeholder tokens, and the checks that
every placeholder survives the MIME build."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from digest.errors import TemplateError
from digest.mime import MessageTemplate
from digest.models import DigestContent

# Gmail clips HTML over about 102 KB (docs/email.md rule 11).
HTML_SIZE_LIMIT = 100_000


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
            # Per-reader tracking: ends each tracked link (digest/render/tracking.py).
            "track": self._t("track"),
            # This reader's copy on the web ("View in browser", docs/email.md rule 28).
            "view_html": self._t("viewhtml"),
            "view_text": self._t("viewtext"),
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


def check_links(tokens: dict[str, str], page: str, text: str) -> None:
    """Both parts must show the unsubscribe and preferences links."""
    for name, template_name, value in (
        ("unsub_html", "digest.mjml.j2", page),
        ("prefs_html", "digest.mjml.j2", page),
        ("unsub_text", "digest.txt.j2", text),
        ("prefs_text", "digest.txt.j2", text),
    ):
        if tokens[name] not in value:
            what = "unsubscribe_url" if name.startswith("unsub") else "preferences_url"
            raise TemplateError(
                f"{template_name}: must link to {{{{ {what} }}}} (docs/email.md rule 10: every "
                "digest shows unsubscribe and preferences links)"
            )


def check_slots(template: MessageTemplate, tokens: dict[str, str], page: str, text: str) -> None:
    """Every placeholder must come through the MIME build whole: a token split by an
    encoder would go out to every reader as a broken link."""
    expected = {
        "to": 1,
        "date": 1,
        "msgid": 1,
        "list_unsub": 1,
        "unsub_html": page.count(tokens["unsub_html"]),
        "prefs_html": page.count(tokens["prefs_html"]),
        "unsub_text": text.count(tokens["unsub_text"]),
        "prefs_text": text.count(tokens["prefs_text"]),
        "track": page.count(tokens["track"]) + text.count(tokens["track"]),
        "view_html": page.count(tokens["view_html"]),
        "view_text": text.count(tokens["view_text"]),
    }
    for slot, count in expected.items():
        if template.count(slot) != count:
            raise TemplateError(
                f"placeholder {slot} appears {template.count(slot)} times in the message, "
                f"expected {count}: a link would break"
            )


def html_part_size(
    tokens: dict[str, str],
    page: str,
    longest_link: int,
    longest_reader: int = 0,
    longest_view_link: int = 0,
) -> int:
    """The encoded HTML part in bytes once every link placeholder holds a link of
    ``longest_link`` characters (each tracking placeholder ``longest_reader``, the
    view-in-browser one ``longest_view_link``)."""
    growth = sum(
        page.count(tokens[k]) * max(0, longest_link - len(tokens[k]))
        for k in ("unsub_html", "prefs_html")
    )
    growth += page.count(tokens["track"]) * max(0, longest_reader - len(tokens["track"]))
    growth += page.count(tokens["view_html"]) * max(0, longest_view_link - len(tokens["view_html"]))
    # 7bit: the part is the page itself, with CRLF line endings.
    return len(page) + page.count("\n") + growth


def isolate(text: str, tokens: Sequence[str]) -> str:
    """Put each placeholder on a line of its own: the text part is quoted-printable, and a
    token that shares a line could be split by a soft line break or push the line past 76."""
    for token in tokens:
        text = re.sub(rf"[ \t]*{token}[ \t]*", f"\n{token}\n", text)
        text = text.replace(f"\n\n{token}", f"\n{token}").replace(f"{token}\n\n", f"{token}\n")
    return text
