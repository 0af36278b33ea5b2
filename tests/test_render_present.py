"""Presentation helpers the templates and pages share."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from digest.models import Article
from digest.render.present import article_view, category_summary, reading_minutes, reading_time

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def test_category_summary() -> None:
    assert category_summary(["A"]) == "A"
    assert category_summary(["A", "B"]) == "A and B"
    assert category_summary(["A", "B", "C", "D"]) == "A, B and 2 more"
    assert category_summary([]) == ""


def test_reading_time_from_the_body_or_its_count_of_words() -> None:
    body = "<p>" + "word " * 700 + "</p>"
    article = Article(
        id="a", url="https://x.example/a", title="T", published_at=NOW, body_html=body
    )
    assert reading_minutes(article) == 3  # 700 words at 230 a minute
    assert reading_time(article) == "3 min read"
    assert reading_time(article, "es") == "3 min de lectura"
    assert reading_time(article, "ar") == "قراءة في 3 دقائق"
    # A send loads only the count (digest.store.editions.WORDS).
    counted = dataclasses.replace(article, body_html="", words=100)
    assert reading_time(counted) == "1 min read"  # never "0 min"
    assert reading_time(dataclasses.replace(article, body_html="")) == ""  # not known
    assert article_view(article, fallback_url="https://x.example/").reading_time == "3 min read"
