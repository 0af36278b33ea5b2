"""The templates' gettext callables (digest.render.i18n.TemplateGettext) say exactly what
Jinja's new-style i18n callables say, escaped the same way, for every string of every
catalog; they are only faster."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jinja2
import pytest
from babel.messages.pofile import read_po

from digest.config import default_templates_dir
from digest.render.i18n import LOCALE_DIR, date_label, template_gettext, translations
from digest.render.templates import Templates

HOSTILE = '<b>"Tom" & Jerry\'s</b>'
_PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")


def environments(lang: str, autoescape: bool) -> tuple[jinja2.Environment, jinja2.Environment]:
    """(Jinja's own new-style callables, ours as digest installs them)."""
    theirs = jinja2.Environment(autoescape=autoescape, extensions=["jinja2.ext.i18n"])
    theirs.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    ours = Templates([default_templates_dir()], lang=lang).env
    ours.autoescape = autoescape
    return theirs, ours


def messages(lang: str) -> list[Any]:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    return [m for m in catalog if m.id]


def variables(*texts: str) -> dict[str, Any]:
    found = {name: kind for text in texts for name, kind in _PLACEHOLDER.findall(text)}
    return {name: 3 if kind == "d" else f"{HOSTILE}{name}" for name, kind in found.items()}


@pytest.mark.parametrize("autoescape", [True, False])
@pytest.mark.parametrize("lang", ["en", "es", "ar"])
def test_every_catalog_string_renders_as_jinja_renders_it(lang: str, autoescape: bool) -> None:
    theirs, ours = environments(lang, autoescape)
    checked = 0
    for message in messages("es" if lang == "en" else lang):
        if isinstance(message.id, tuple):
            singular, plural = message.id
            source = "{{ ngettext(s, p, n, **v) }}|{{ ngettext(s, p, 1, **v) }}"
            context = {"s": singular, "p": plural, "n": 5, "v": variables(singular, plural)}
        else:
            source = "{{ _(s, **v) }}|{{ gettext(s, **v) }}|{{ _(s, **v) }}"
            context = {"s": message.id, "v": variables(message.id)}
        expected = theirs.from_string(source).render(context)
        assert ours.from_string(source).render(context) == expected, message.id
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("autoescape", [True, False])
def test_literals_percent_signs_and_trans_blocks_match(autoescape: bool) -> None:
    theirs, ours = environments("es", autoescape)
    sources = [
        '{{ _("Unsubscribe") }} {{ _("Unsubscribe") }}',
        '{{ _("100%% sure") }}',
        '{{ _("Hello %(name)s", name=who) }}',
        # The message is trusted markup, only its arguments are escaped.
        """{{ _('<b>%(name)s</b> & "co"', name=who) }}""",
        """{{ _("<i>it's</i> & more") }}""",
        '{{ ngettext("%(num)d article", "%(num)d articles", 2) }}',
        '{{ ngettext("%(num)d of %(all)d", "%(num)d of %(all)d", 1, all=7) }}',
        "{% trans %}Plain {{ who }}{% endtrans %}",
        "{% trans n=2 %}One {{ who }}{% pluralize %}{{ n }} of {{ who }}{% endtrans %}",
        '{% autoescape false %}{{ _("Hi %(name)s", name=who) }}{% endautoescape %}',
        '{% autoescape true %}{{ _("Hi %(name)s", name=who) }}{% endautoescape %}',
    ]
    for source in sources:
        expected = theirs.from_string(source).render(who=HOSTILE)
        assert ours.from_string(source).render(who=HOSTILE) == expected, source


def test_a_bad_format_string_fails_every_time_as_jinja_fails() -> None:
    theirs, ours = environments("en", True)
    source = '{{ _("at 100%") }}'
    with pytest.raises(ValueError):
        theirs.from_string(source).render()
    for _ in range(2):  # not remembered as a result
        with pytest.raises(ValueError):
            ours.from_string(source).render()


def test_escaped_once_per_mode_not_shared_between_modes() -> None:
    fast = template_gettext("en")
    plain = jinja2.Environment(autoescape=False)
    html = jinja2.Environment(autoescape=True)
    plain.globals["_"] = html.globals["_"] = fast.gettext
    source = '{{ _("a <b> & c") }}'
    assert plain.from_string(source).render() == "a <b> & c"
    assert html.from_string(source).render() == "a <b> & c"  # Markup: the catalog is trusted
    assert str(html.from_string('{{ _("x %(v)s", v=w) }}').render(w="<i>")) == "x &lt;i&gt;"
    assert plain.from_string('{{ _("x %(v)s", v=w) }}').render(w="<i>") == "x <i>"


def test_date_label_is_the_calendar_date_of_each_datetime() -> None:
    # Equal instants, different days: the label follows the day the datetime is on.
    late_utc = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)
    next_day = late_utc.astimezone(timezone(timedelta(hours=2)))
    assert late_utc == next_day
    assert date_label(late_utc) == "28 Nov 2026"
    assert date_label(next_day) == "29 Nov 2026"
    assert date_label(late_utc, "es") == "28 nov 2026"
