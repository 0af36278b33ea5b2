"""Rendering: Jinja2 -> MJML -> HTML, the text part, and per-recipient personalisation.

A :class:`Renderer` is built once per run. It renders and compiles each content variant once
(:mod:`digest.render.renderer`), over the templates of :mod:`digest.render.templates`, with
the views of :mod:`digest.render.present`; the confirm and welcome-back mails go through
:mod:`digest.render.system`; :mod:`digest.render.checks` audits the templates. Nothing here
touches the store: values in, bytes out.
"""

from __future__ import annotations

from digest.render.checks import CheckReport, check_templates
from digest.render.envelope import Envelope
from digest.render.present import ArticleView, SectionView
from digest.render.renderer import ARTICLE_VIEW_CACHE, Renderer
from digest.render.system import SUBJECTS, SystemMails
from digest.render.templates import Compiler, Templates
from digest.render.variant import HTML_SIZE_LIMIT, Placeholders, RenderedVariant

__all__ = [
    "ARTICLE_VIEW_CACHE",
    "HTML_SIZE_LIMIT",
    "SUBJECTS",
    "ArticleView",
    "CheckReport",
    "Compiler",
    "Envelope",
    "Placeholders",
    "RenderedVariant",
    "Renderer",
    "SectionView",
    "SystemMails",
    "Templates",
    "check_templates",
]
