"""The Jinja2 environment over the template folders, MJML compiles, and TemplateError.

A :class:`Templates` looks templates up in the editors' folder first, then the shipped
defaults (``digest.config.templates_dirs``), escapes HTML templates only, and reports every
failure, Jinja2's or the MJML compiler's, as a :class:`TemplateError` naming the template
and line.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from mjml import mjml2html

from digest.errors import TemplateError
from digest.render.i18n import template_gettext, translations

_MJML_POSITION = re.compile(r"position (\d+):(\d+)")

Compiler = Callable[[str], str]


class Templates:
    """Templates from ``dirs``, earlier folders winning, and MJML compiled by ``compiler``.
    ``compile_count`` counts compiles, so tests and benchmarks can see that many recipients
    of one variant cost one compile."""

    def __init__(
        self, dirs: Sequence[Path], *, compiler: Compiler = mjml2html, lang: str = "en"
    ) -> None:
        self.dirs = list(dirs)
        self.lang = lang
        self.compiler = compiler
        self.compile_count = 0
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in self.dirs]),
            autoescape=_autoescape,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Templates do not change during a run; checking each file's mtime on every
            # render cost more than compiling the MJML.
            auto_reload=False,
            extensions=["jinja2.ext.i18n"],
        )
        # Every string a reader sees goes through the catalog of ``lang`` (digest.render.i18n).
        self.translations = translations(lang)
        self.env.install_gettext_translations(  # type: ignore[attr-defined]
            self.translations, newstyle=True
        )
        # The same meaning as the extension's new-style callables, without their context
        # lookups: they were a sixth of a digest's render (docs/performance.md, Rendering).
        fast = template_gettext(lang)
        self.env.globals.update(_=fast.gettext, gettext=fast.gettext, ngettext=fast.ngettext)

    def from_string(self, source: str, where: str) -> jinja2.Template:
        """A template from a setting; ``where`` (the setting's name) heads any error."""
        try:
            return self.env.from_string(source)
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(f"{where}:{e.lineno}: {e.message}") from e

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(context)
        except jinja2.TemplateNotFound as e:
            dirs = ", ".join(str(d) for d in self.dirs)
            raise TemplateError(f"template {e.name} not found (looked in {dirs})") from e
        except jinja2.TemplateSyntaxError as e:
            where = _display_path(e.filename) if e.filename else name
            raise TemplateError(f"{where}:{e.lineno}: {e.message}") from e
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError, LookupError) as e:
            where = _template_frame(e.__traceback__) or name
            raise TemplateError(f"{where}: {e}") from e

    def compile(self, source: str, name: str) -> str:
        """``source``, rendered from template ``name``, compiled MJML -> HTML."""
        self.compile_count += 1
        try:
            return self.compiler(source)
        except ValueError as e:
            raise TemplateError(
                f"{self.template_path(name)}: MJML: {e}{_near(source, str(e))}"
            ) from e

    def render_marked(self, name: str, context: Mapping[str, Any]) -> tuple[str, list[int]]:
        """Template ``name`` rendered with line markers (see :func:`marked_source`) stripped
        out again: (the rendered text, the template line of each offset's line end). Errors
        are reported like :meth:`render`'s, with the template's own file and line."""
        try:
            source, filename, _ = self.env.loader.get_source(self.env, name)  # type: ignore[union-attr]
            code = self.env.compile(marked_source(source), name, filename)
            template = self.env.template_class.from_code(
                self.env, code, self.env.make_globals(None), None
            )
            rendered = template.render(context)
        except jinja2.TemplateNotFound as e:
            dirs = ", ".join(str(d) for d in self.dirs)
            raise TemplateError(f"template {e.name} not found (looked in {dirs})") from e
        except jinja2.TemplateSyntaxError as e:
            where = _display_path(e.filename) if e.filename else name
            raise TemplateError(f"{where}:{e.lineno}: {e.message}") from e
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError, LookupError) as e:
            where = _template_frame(e.__traceback__) or name
            raise TemplateError(f"{where}: {e}") from e
        text, offsets, lines = strip_marks(rendered)
        return text, _line_table(offsets, lines)

    def template_path(self, name: str) -> str:
        try:
            filename = self.env.get_template(name).filename
        except jinja2.TemplateError:
            filename = None
        return _display_path(filename) if filename else name


def _autoescape(name: str | None) -> bool:
    # Plain text must not contain &amp;; the subject (a string template) is plain text too.
    return name is not None and name.endswith((".mjml.j2", ".html.j2"))


def _display_path(filename: str) -> str:
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    # Inside the working folder: short; elsewhere (the shipped defaults): the whole path.
    return filename if relative.startswith("..") else relative


def _template_frame(tb: TracebackType | None) -> str | None:
    """``path:line`` of the innermost template frame: Jinja rewrites tracebacks so template
    code appears with the template's file name and line number."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2") or filename == "<template>":
            found = f"{_display_path(filename)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _near(source: str, message: str) -> str:
    match = _MJML_POSITION.search(message)
    if not match:
        return ""
    start = int(match.group(1))
    line = source.count("\n", 0, start) + 1
    snippet = source[max(0, start - 30) : start + 40].replace("\n", " ")
    return f" (rendered MJML line {line}, near {snippet!r})"


# Marks the end of template line N in a rendered check copy (digest.render.guard): private-use
# characters no template or article text contains.
_MARK = re.compile("\ue000(\\d+)\ue001")
_JINJA_SPAN = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


def marked_source(source: str) -> str:
    """``source`` with a marker before each newline that is template text (not inside a
    Jinja tag, expression or comment): rendered, the markers say which line made what."""
    out: list[str] = []
    pos = 0
    line = 1
    for span in _JINJA_SPAN.finditer(source):
        text = source[pos : span.start()]
        pieces = text.split("\n")
        for i, piece in enumerate(pieces[:-1]):
            out.append(f"{piece}\ue000{line + i}\ue001\n")
        out.append(pieces[-1])
        line += len(pieces) - 1
        out.append(span.group(0))
        line += span.group(0).count("\n")
        pos = span.end()
    rest = source[pos:].split("\n")
    for i, piece in enumerate(rest[:-1]):
        out.append(f"{piece}\ue000{line + i}\ue001\n")
    out.append(rest[-1])
    return "".join(out)


def strip_marks(rendered: str) -> tuple[str, list[int], list[int]]:
    """(text without markers, offsets in it where a template line ended, those lines)."""
    clean: list[str] = []
    offsets: list[int] = []
    lines: list[int] = []
    pos = 0
    size = 0
    for mark in _MARK.finditer(rendered):
        chunk = rendered[pos : mark.start()]
        clean.append(chunk)
        size += len(chunk)
        offsets.append(size)
        lines.append(int(mark.group(1)))
        pos = mark.end()
    clean.append(rendered[pos:])
    return "".join(clean), offsets, lines


def _line_table(offsets: list[int], lines: list[int]) -> list[int]:
    """Pairs flattened: [offset0, line0, offset1, line1, ...] (see :func:`line_at`)."""
    table: list[int] = []
    for offset, line in zip(offsets, lines, strict=True):
        table += [offset, line]
    return table


def line_at(table: list[int], position: int) -> int:
    """The template line that wrote ``position`` of a :meth:`Templates.render_marked` text:
    the line after the last line end before it."""
    offsets = table[0::2]
    i = bisect.bisect_right(offsets, position)
    return table[2 * i - 1] + 1 if i else 1
