"""Templates: editors' folder over the defaults, errors naming template and line."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from digest.errors import TemplateError
from digest.models import Recipient
from digest.render import Renderer
from digest.tokens import read_unsubscribe_token
from tests.render_samples import (
    FIXTURES,
    SECRET,
    SETTINGS,
    parse,
    parts,
    send,
    seven_articles,
)


def test_editor_override_with_fallback_and_inline_tokens() -> None:
    settings = dataclasses.replace(
        SETTINGS, templates=dataclasses.replace(SETTINGS.templates, dir=str(FIXTURES / "text_only"))
    )
    renderer = Renderer(settings)
    text, page = parts(parse(send(renderer, seven_articles(), Recipient(9, "a@example.org"))))
    assert text.startswith("EDITORS' TEXT VERSION")
    assert "Manage your categories" in page  # the shipped HTML template
    token = re.search(r"/u/([\w.-]+)", text)
    assert token and read_unsubscribe_token(SECRET, token.group(1)) == 9


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("broken", r"tests/fixtures/templates/broken/digest\.mjml\.j2:56: .*"),
        (
            "missing_var",
            r"tests/fixtures/templates/missing_var/digest\.mjml\.j2:53: 'articel' is undefined",
        ),
        (
            "bad_mjml",
            r"tests/fixtures/templates/bad_mjml/digest\.mjml\.j2: MJML: .*rendered MJML line",
        ),
    ],
)
def test_template_errors_name_template_and_line(
    folder: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(__file__).parent.parent)
    settings = dataclasses.replace(
        SETTINGS, templates=dataclasses.replace(SETTINGS.templates, dir=str(FIXTURES / folder))
    )
    with pytest.raises(TemplateError) as info:
        Renderer(settings).render_variant(seven_articles())
    assert re.match(expected, str(info.value)), str(info.value)


def test_bad_subject_template_is_a_template_error() -> None:
    settings = dataclasses.replace(
        SETTINGS, digest=dataclasses.replace(SETTINGS.digest, subject="{{ site.name")
    )
    with pytest.raises(TemplateError, match=r"digest\.subject"):
        Renderer(settings)
    settings = dataclasses.replace(
        SETTINGS, digest=dataclasses.replace(SETTINGS.digest, subject="{{ nope }}")
    )
    with pytest.raises(TemplateError, match="'nope' is undefined"):
        Renderer(settings).subject_for(seven_articles())
