"""The desk's Stats page over Flask's test client: behind the login like every desk page,
and sensible before anything was sent (the browser test, tests/test_reports_browser.py,
checks the figures)."""

from __future__ import annotations

from flask import Flask

from tests.test_desk_security import app, frozen, log_in, settings

__all__ = ["app", "frozen", "settings"]  # the fixtures this module uses


def test_stats_needs_a_session(app: Flask) -> None:
    response = app.test_client().get("/admin/stats")
    assert response.status_code in (302, 303)
    assert "/admin/login" in response.headers["Location"]


def test_stats_before_any_send(app: Flask) -> None:
    client = app.test_client()
    log_in(client)
    page = client.get("/admin/stats", base_url="https://localhost")
    assert page.status_code == 200
    html = page.text
    assert "No edition has been sent yet." in html
    assert '<table class="funnel">' in html and "<svg" not in html
    # The draft (prepared, never started) has no figures on its page yet.
    draft = client.get("/admin/editions/1", base_url="https://localhost").text
    assert "What it did" not in draft
