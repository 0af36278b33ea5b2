"""Reader pages in the reader's language (issue 14 point 5): the reader's own language on the
pages their signed links open, else the browser's Accept-Language, else [site] lang; right to
left for Arabic; messages the views write and dates translated too. And the weekly day on the
sign-up form, kept until the reader confirms. Flask's test client over a real SQLite file and a
real SMTP relay on loopback (tests/test_web.py's fixtures)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.store import editions as editions_store
from digest.tokens import make_preferences_token, make_unsubscribe_token
from digest.web import create_app
from tests.builders import NOW, add_articles, article, subscribe
from tests.relay import running_relay
from tests.test_web import SECRET, Web, active_subscriber, csrf_of, link_in, make_web, sign_up


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    with running_relay() as relay:
        yield make_web(tmp_path, relay)


def page(web: Web, path: str, language: str | None = None) -> str:
    headers = {"Accept-Language": language} if language else {}
    return web.client.get(path, headers=headers).get_data(as_text=True)


def test_the_browser_language_picks_the_page_language(web: Web) -> None:
    spanish = page(web, "/", "es-MX,es;q=0.9,en;q=0.5")
    assert '<html lang="es" dir="ltr">' in spanish
    assert "<title>Suscribirse – " in spanish
    assert "Reciba el resumen de" in spanish and "Saltar al contenido" in spanish
    # The weekly day's names are Babel's, in the page's language, Monday first.
    assert '<option value="" selected>Lunes</option>' in spanish
    assert '<option value="thu">Jueves</option>' in spanish
    arabic = page(web, "/", "ar")
    assert '<html lang="ar" dir="rtl">' in arabic
    assert "احصل على ملخص" in arabic and '<option value="thu">الخميس</option>' in arabic
    # No catalog for German, none asked for, or nonsense: the site's language.
    for header in ("de-DE,de;q=0.9", None, ";;q=x"):
        english = page(web, "/", header)
        assert '<html lang="en" dir="ltr">' in english and "Get the " in english
    response = web.client.get("/", headers={"Accept-Language": "es"})
    assert "Accept-Language" in response.headers["Vary"]


def test_the_site_language_is_the_fallback(tmp_path: Path) -> None:
    with running_relay() as relay:
        web = make_web(tmp_path, relay)
        settings = dataclasses.replace(
            web.settings, site=dataclasses.replace(web.settings.site, lang="es")
        )
        client = create_app(settings, clock=web.clock).test_client()
        spanish = client.get("/archive").get_data(as_text=True)
        assert '<html lang="es" dir="ltr">' in spanish and "Resúmenes anteriores" in spanish
        arabic = client.get("/archive", headers={"Accept-Language": "ar"})
        assert '<html lang="ar" dir="rtl">' in arabic.get_data(as_text=True)


def test_form_errors_are_in_the_page_language(web: Web) -> None:
    token = csrf_of(web.client.get("/", headers={"Accept-Language": "es"}))
    form: dict[str, Any] = {"csrf_token": token, "email": "", "frequency": "weekly"}
    form["delivery_day"] = "someday"
    response = web.client.post("/subscribe", data=form, headers={"Accept-Language": "es"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Corrija estos errores y envíe el formulario de nuevo" in text
    assert "Escriba su dirección de correo." in text
    assert "Elija al menos una categoría." in text
    assert "Elija un día de la semana de la lista." in text
    assert '<a href="#delivery_day-legend">' in text
    arabic = web.client.get("/p/not-a-token", headers={"Accept-Language": "ar"})
    assert arabic.status_code == 404
    assert "هذا الرابط غير صالح" in arabic.get_data(as_text=True)
    missing = web.client.get("/no-such-page", headers={"Accept-Language": "es"})
    assert "Página no encontrada" in missing.get_data(as_text=True)


def test_a_readers_own_language_wins_on_their_signed_pages(web: Web) -> None:
    reader = active_subscriber(web, "ana@example.com")
    db = web.db()
    db.execute("UPDATE subscribers SET language = 'ar' WHERE id = ?", [reader])
    db.conn.commit()
    db.close()
    preferences = f"/p/{make_preferences_token(SECRET, reader)}"
    unsubscribe = f"/u/{make_unsubscribe_token(SECRET, reader)}"
    for path in (preferences, unsubscribe):
        text = page(web, path, "es,en;q=0.5")  # their browser says Spanish; they chose Arabic
        assert '<html lang="ar" dir="rtl">' in text
    assert "<h1>تفضيلاتك</h1>" in page(web, preferences)
    assert "هل نوقف إرسال ملخص" in page(web, unsubscribe)
    # A reader with the site's language: the browser decides.
    other = active_subscriber(web, "bo@example.com")
    assert '<html lang="es"' in page(web, f"/p/{make_preferences_token(SECRET, other)}", "es")


def test_the_archive_is_translated_with_babel_dates(web: Web) -> None:
    db = web.db()
    add_articles(db, [article("1", ("Courts",), NOW, title="Court rules")], NOW)
    reader = subscribe(db, "r@example.com", ("Courts",))
    edition = editions_store.create_edition(
        db,
        frequency="weekly",
        period="2026-W48",
        starts_at=NOW.replace(day=21, hour=0),
        ends_at=NOW,
        now=NOW,
    )
    db.execute(
        "UPDATE deliveries SET status = 'sent', updated_at = ? WHERE edition_id = ?",
        ["2026-11-28T09:00:00Z", edition.id],
    )
    db.execute(
        "UPDATE editions SET status = 'sent', completed_at = ? WHERE id = ?",
        ["2026-11-28T09:00:00Z", edition.id],
    )
    db.conn.commit()
    db.close()
    assert reader
    spanish = page(web, "/archive", "es")
    assert "Resumen semanal, 21 nov 2026 – 28 nov 2026" in spanish
    assert 'enviado el <time datetime="2026-11-28">28 nov 2026</time>' in spanish
    edition_page = page(web, f"/archive/{edition.id}", "es")
    assert "Enviado el <time" in edition_page and "Todos los resúmenes anteriores" in edition_page
    assert "Weekly digest, 21 Nov 2026 – 28 Nov 2026" in page(web, "/archive", "en")


def test_the_weekly_day_waits_for_confirmation_then_applies(web: Web) -> None:
    response = sign_up(web.client, "day@example.com", delivery_day="thu")
    assert response.status_code == 200
    assert web.subscriber("day@example.com").delivery_day == ""  # not before consent
    path = link_in(web.mail()[0], "/c/")
    confirm_page = web.client.get(path)
    assert web.client.post(path, data={"csrf_token": csrf_of(confirm_page)}).status_code == 200
    assert web.subscriber("day@example.com").delivery_day == "thu"


@pytest.mark.parametrize(("chosen", "stored"), [("", ""), ("fri", "fri")])
def test_the_preferences_page_saves_the_day(web: Web, chosen: str, stored: str) -> None:
    reader = active_subscriber(web, "pat@example.com", delivery_day="tue")
    path = f"/p/{make_preferences_token(SECRET, reader)}"
    response = web.client.get(path)
    assert '<option value="tue" selected>Tuesday</option>' in response.get_data(as_text=True)
    form = {
        "csrf_token": csrf_of(response),
        "action": "save",
        "categories": ["courts"],
        "frequency": "weekly",
        "delivery_day": chosen,
    }
    assert web.client.post(path, data=form).status_code == 303
    # "" (the first option, the site's Monday) follows the site's weekly_day from now on.
    assert web.subscriber("pat@example.com").delivery_day == stored
