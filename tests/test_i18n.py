"""Translations (digest.render.i18n): the reader's language from `[site] lang`, Babel's
catalogs and locale dates, right-to-left for Arabic; the catalogs are complete and
extracted from the current sources."""

from __future__ import annotations

import dataclasses
import html
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from digest.models import Recipient
from digest.render import Renderer
from digest.render.i18n import LOCALE_DIR, available_languages, direction
from tests.render_samples import NOW, SETTINGS, parse, parts, send, seven_articles

ROOT = Path(__file__).parent.parent


def in_language(lang: str) -> Renderer:
    return Renderer(
        dataclasses.replace(SETTINGS, site=dataclasses.replace(SETTINGS.site, lang=lang))
    )


def test_a_spanish_reader_gets_spanish_subject_headings_dates_and_footer() -> None:
    msg = parse(send(in_language("es"), seven_articles(), Recipient(1, "a@example.org")))
    assert str(msg["Subject"]).startswith("Legal Reader semanal: 7 artículos nuevos en ")
    text, page = parts(msg)
    page = html.unescape(page)  # the HTML part is 7-bit: non-ASCII as numeric references
    for part in (text, " ".join(page.split())):
        assert "Resumen semanal, 21 nov 2026 – 28 nov 2026" in part
        assert "7 artículos nuevos" in part and "En este resumen:" in part
        assert "Ver en el navegador" in part and "Darse de baja" in part
        assert "Recibe este correo porque se suscribió a" in " ".join(part.split())
        assert "Gestionar sus categorías" in part
        assert "Read the article" not in part and "Unsubscribe" not in part
    assert "28 nov 2026" in text  # an article's date, Babel's Spanish medium format
    assert '<html lang="es" dir="ltr"' in page


def test_an_arabic_reader_gets_right_to_left() -> None:
    renderer = in_language("ar")
    msg = parse(send(renderer, seven_articles(), Recipient(1, "a@example.org")))
    text, page = parts(msg)
    page = html.unescape(page)
    assert '<html lang="ar" dir="rtl"' in page
    assert "text-align:right" in page and "direction:rtl" in page
    assert "العرض في المتصفح" in page and "إلغاء الاشتراك" in text
    assert direction("ar") == "rtl" and direction("es") == "ltr" and direction("en") == "ltr"


def test_english_is_the_source_language() -> None:
    text, page = parts(
        parse(send(in_language("en"), seven_articles(), Recipient(1, "a@example.org")))
    )
    assert "Weekly digest, 21 Nov 2026 – 28 Nov 2026" in text
    assert '<html lang="en" dir="ltr"' in page


def test_catalogs_are_complete_and_extracted_from_the_sources(tmp_path: Path) -> None:
    assert set(available_languages()) >= {"en", "es", "ar"}
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "NP_:1,2", "-k", "N_", "--no-location", "--sort-output", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as f:
        fresh = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    with (LOCALE_DIR / "messages.pot").open("rb") as f:
        committed = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    assert fresh == committed, "run pybabel extract and update (docs/email.md rule 27)"
    for lang in ("es", "ar"):
        with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f, locale=lang)
        ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
        assert ids == committed, lang
        for message in catalog:
            if message.id:
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                assert all(strings), (lang, message.id)


def test_a_regular_install_ships_the_catalogs(tmp_path: Path) -> None:
    """`pip install .` (not editable) carries the .po files, compiled in memory on use."""
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", str(ROOT), "--no-deps", "-w", str(wheels)], check=True)
    (wheel,) = wheels.glob("digest-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    probe = (
        "import digest.render.i18n as i;"
        "print(i.available_languages(), i.translations('es').gettext('Unsubscribe'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out.strip() == "('en', 'ar', 'es') Darse de baja"
    assert (
        str(target)
        in subprocess.run(
            [sys.executable, "-c", "import digest.render.i18n as i; print(i.LOCALE_DIR)"],
            cwd=tmp_path,
            env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )


def test_confirm_and_welcome_back_mails_are_translated() -> None:
    renderer = in_language("es")
    reader = Recipient(1, "a@example.org", "Ana")
    confirm = parse(
        renderer.render_confirm(
            reader,
            request_id=1,
            nonce="n",
            categories=["Courts"],
            message_id="<c@news.example.com>",
            date=NOW,
        ).data
    )
    assert str(confirm["Subject"]) == "Confirme su suscripción a Legal Reader"
    text, page = parts(confirm)
    for part in (text, html.unescape(page)):
        # Never the typed name in a system mail (anyone can type it): no greeting by name.
        assert "Esta dirección (usted, o alguien que la usa)" in " ".join(part.split())
        assert "Ana" not in part
        assert "Confirmar mi suscripción" in part and "Categorías: Courts." in part
    back = parse(
        in_language("ar")
        .render_welcome_back(reader, categories=[], message_id="<w@news.example.com>", date=NOW)
        .data
    )
    text, page = parts(back)
    assert str(back["Subject"]) == "أنت مشترك بالفعل في Legal Reader"
    assert '<html lang="ar" dir="rtl"' in page and "إلغاء الاشتراك في كل شيء" in text
