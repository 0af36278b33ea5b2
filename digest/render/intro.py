"""An editor's introduction: Markdown in, sanitised HTML and a plain-text rendering out.

markdown-it-py (CommonMark) parses it with raw HTML turned off; nh3 then keeps only a small
allowlist, so nothing an editor pastes can run script or restyle the email. The text part
is rendered from the same tokens, so both parts say the same thing (docs/email.md)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import nh3

from digest.errors import InputError

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

INTRO_MAX = 5_000  # characters of Markdown
_TAGS = {"p", "a", "em", "strong", "ul", "ol", "li", "blockquote", "br", "code"}
_ATTRIBUTES = {"a": {"href"}}


@cache
def _parser() -> MarkdownIt:
    # Built on first use: only editions with an intro need markdown-it, and importing it
    # costs every process (docs/performance.md, Memory).
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).disable(["image", "heading"])


@dataclass(frozen=True)
class Intro:
    markdown: str
    html: str
    text: str


def render_intro(markdown: str) -> Intro:
    """The intro as safe HTML and as text; '' stays ''. InputError when it is too long."""
    source = markdown.replace("\r\n", "\n").strip()
    if len(source) > INTRO_MAX:
        raise InputError(f"intro: {len(source)} characters, the most is {INTRO_MAX}")
    if not source:
        return Intro("", "", "")
    md = _parser()
    html = nh3.clean(
        md.render(source),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener",
    ).strip()
    return Intro(source, html, _text(md.parse(source)))


def _text(tokens: list[Token]) -> str:
    """Paragraphs separated by blank lines, list items as "- ", links as "text (url)"."""
    blocks: list[str] = []
    prefix: list[str] = []
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            prefix.append("- ")
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            prefix.pop()
        elif token.type == "blockquote_open":
            prefix.append("> ")
        elif token.type == "blockquote_close":
            prefix.pop()
        elif token.type == "inline":
            blocks.append("".join(prefix[-1:]) + _inline(token.children or []))
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content.rstrip("\n"))
    return "\n\n".join(b for b in blocks if b.strip())


def _inline(children: list[Token]) -> str:
    out: list[str] = []
    href = ""
    for child in children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "link_open":
            href = str(child.attrs.get("href", ""))
        elif child.type == "link_close" and href:
            if href.startswith(("http://", "https://")):
                out.append(f" ({href})")
            href = ""
    return "".join(out)
