"""The Jinja2 environment over the template folders, MJML compiles, and TemplateError.

A :class:`Templates` looks templates up in the editors' folder first, then the shipped
defaults (``digest.config.templates_dirs``), escapes HTML templates only, and reports every
failure, Jinja2's or the MJML compiler's, as a :class:`TemplateError` naming the template
and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from mjml import mjml2html

from digest.errors import TemplateError

_MJML_POSITION = re.compile(r"position (\d+):(\d+)")

Compiler = Callable[[str], str]


class Templates:
    """Templates from ``dirs``, earlier folders winning, and MJML compiled by ``compiler``.
    ``compile_count`` counts compiles, so tests and benchmarks can see that many recipients
    of one variant cost one compile."""

    def __init__(self, dirs: Sequence[Path], *, compiler: Compiler = mjml2html) -> None:
        self.dirs = list(dirs)
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
        )

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
        return os.path.relpath(filename)
    except ValueError:
        return filename


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
