"""The template check every render path runs first (docs/email.md rules 10, 16 and 21).

Each template is rendered against every context of :func:`digest.render.samples.matrix`
with line markers (:meth:`digest.render.templates.Templates.render_marked`), so an error in
any branch names the template's own file and line. The rendered MJML is walked against
MJML's documented elements and attributes (:mod:`digest.render.mjml_schema`), then compiled,
and the compiled parts must show the unsubscribe and preferences links and the postal address
where a reader can see them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser

import jinja2

from digest.errors import TemplateError
from digest.render.mjml_schema import check_mjml
from digest.render.renderer import Renderer
from digest.render.samples import Case
from digest.render.templates import line_at
from digest.render.variant import RenderedVariant

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
     "track", "wbr"}
)  # fmt: skip
_HIDING = re.compile(
    r"(?:^|;)(?:display:none|visibility:hidden|(?:max-height|opacity):0(?:px)?)(?:;|$|!)"
)


def check_mjml_template(
    renderer: Renderer, name: str, context: dict[str, object], case: str
) -> None:
    """Render ``name`` with ``context`` and walk the MJML; a problem raises TemplateError
    naming the template file and line."""
    templates = renderer.templates
    source, table = templates.render_marked(name, context)
    problem = check_mjml(source, lambda pos: line_at(table, pos))
    if problem is not None:
        where = templates.template_path(name)
        raise TemplateError(
            f"{where}:{line_at(table, problem.position)}: {problem.message} ({case})"
        )


def check_digest_case(renderer: Renderer, case: Case) -> RenderedVariant:
    """One context of the matrix through both templates, the MJML walk, the compile and the
    visibility checks. Returns the rendered variant for the audits that follow."""
    html_context, text_context = renderer.part_contexts(case.content)
    check_mjml_template(renderer, "digest.mjml.j2", html_context, case.name)
    renderer.templates.render_marked("digest.txt.j2", text_context)
    variant = renderer.render_variant(case.content)
    check_visible(renderer, variant, case.name)
    return variant


def check_visible(renderer: Renderer, variant: RenderedVariant, case: str) -> None:
    """docs/email.md rule 10: the unsubscribe and preferences links and the postal address
    are in both parts where a reader sees them: not in an HTML comment, not hidden."""
    tokens = variant.placeholders.tokens
    seen = _Visible()
    seen.feed(variant.html)
    postal = " ".join(renderer.settings.site.postal_address.split())
    where = locator(renderer, "digest.mjml.j2")
    text_where = locator(renderer, "digest.txt.j2")
    for key, variable in (("unsub_html", "unsubscribe_url"), ("prefs_html", "preferences_url")):
        if not any(tokens[key] in href for href in seen.hrefs):
            raise TemplateError(
                f"{where(variable)}: the {{{{ {variable} }}}} link is not visible (it must be "
                f"an <a href> outside HTML comments and hidden elements; docs/email.md rule "
                f"10) ({case})"
            )
    if postal and postal not in " ".join(" ".join(seen.text).split()):
        raise TemplateError(
            f"{where('postal_address')}: the postal address (site.postal_address) is not "
            f"visible in the HTML part (CAN-SPAM; docs/email.md rule 10) ({case})"
        )
    lines = variant.text.splitlines()
    for key, variable in (("unsub_text", "unsubscribe_url"), ("prefs_text", "preferences_url")):
        if tokens[key] not in lines:
            raise TemplateError(
                f"{text_where(variable)}: the text part must show {{{{ {variable} }}}} on a "
                f"line of its own (docs/email.md rule 10) ({case})"
            )
    if postal and postal not in " ".join(variant.text.split()):
        raise TemplateError(
            f"{text_where('postal_address')}: the postal address (site.postal_address) is "
            f"missing from the text part (CAN-SPAM; docs/email.md rule 10) ({case})"
        )


def locator(renderer: Renderer, name: str) -> Callable[[str], str]:
    """``path:line`` of the first line of template ``name`` that mentions a word, else of
    line 1: where to look for a problem found in the compiled output."""
    path = renderer.templates.template_path(name)
    try:
        source = renderer.env.loader.get_source(renderer.env, name)[0]  # type: ignore[union-attr]
    except jinja2.TemplateNotFound:  # reported by the render itself
        source = ""

    def where(word: str) -> str:
        for number, line in enumerate(source.splitlines(), 1):
            if word in line:
                return f"{path}:{number}"
        return f"{path}:1"

    return where


class _Visible(HTMLParser):
    """The links and text of an HTML page a reader can see: comments are skipped by the
    parser, and nothing inside an element styled hidden counts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self._stack: list[tuple[str, bool]] = []

    def _hidden(self) -> bool:
        return bool(self._stack) and self._stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        style = (a.get("style") or "").replace(" ", "").lower()
        hidden = (
            self._hidden()
            or _HIDING.search(style) is not None
            or "hidden" in a
            or a.get("aria-hidden") == "true"
            or tag in ("head", "style", "script", "title")
        )
        if tag == "a" and not hidden and a.get("href"):
            self.hrefs.append(html.unescape(a["href"] or ""))
        if tag not in _VOID:
            self._stack.append((tag, hidden))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if not self._hidden():
            self.text.append(data)
