from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils

from digest.clock import to_db
from digest.config import Settings
from digest.curate import Curator, EditionWindow, build_sections, edition_window, period_of
from digest.models import ArticleRow, RecipientRow
from digest.store.editions import available_articles, category_names
from tests.builders import NOW, add_articles, article, make_db, settings_for, subscribe


def _curator(db: sqlite_utils.Database, settings: Settings, window: EditionWindow) -> Curator:
    return Curator(
        settings,
        window,
        names=category_names(db),
        articles=lambda after, until: available_articles(
            db, published_after=after, available_until=until
        ),
    )


def test_weekly_period_is_the_iso_week_in_the_site_timezone() -> None:
    tz = ZoneInfo("America/New_York")
    # Sunday 23:30 in New York is already Monday in UTC: the local week decides.
    moment = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)
    label, start, end = period_of("weekly", moment, tz)
    assert label == "2026-W48"
    assert start == datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)


def test_daily_period_across_a_dst_change() -> None:
    tz = ZoneInfo("Europe/London")
    label, start, end = period_of("daily", datetime(2026, 10, 25, 12, tzinfo=UTC), tz)
    assert label == "2026-10-25"
    assert end - start == timedelta(hours=25)  # clocks go back that night


def _row(key: str, category: int, hours_ago: int) -> ArticleRow:
    return ArticleRow(
        key,
        f"https://x/{key}",
        key.upper(),
        "",
        "",
        "",
        "",
        to_db(NOW - timedelta(hours=hours_ago)),
        category,
    )


def test_sections_follow_site_order_dedupe_and_cap() -> None:
    names = {
        1: ("Opioid Drugs", "opioid-drugs", 1),
        2: ("Courts", "courts", 2),
        3: ("Consumer Safety", "consumer-safety", 3),
    }
    rows = [
        _row("a", 2, 1),
        _row("a", 1, 1),
        _row("b", 1, 2),
        _row("c", 1, 3),
        _row("d", 2, 4),
        _row("e", 3, 5),
    ]
    sections = build_sections(rows, (1, 2), names, max_per_category=2)
    assert [s.category for s in sections] == ["Opioid Drugs", "Courts"]
    # "a" is in both of the reader's categories: it appears once, in the first section.
    assert [a.id for a in sections[0].articles] == ["a", "b"]
    assert [a.id for a in sections[1].articles] == ["d"]


def test_windows_never_repeat_and_never_skip(tmp_path: Path) -> None:
    db = make_db(tmp_path / "t.db")
    settings = settings_for(tmp_path / "t.db")
    subscribe(db, "r@example.com", ("Courts",))
    add_articles(
        db,
        [
            article("old", ("Courts",), NOW - timedelta(days=9)),
            article("new", ("Courts",), NOW - timedelta(days=2)),
        ],
        imported=NOW - timedelta(days=1),
    )
    curator = _curator(db, settings, edition_window(settings, "weekly", NOW))
    first = curator.select((3,), None)
    assert first is not None
    # The look-back (7 days) keeps the 9-day-old article out of a first digest.
    assert first.article_ids == ("a-new",)

    # An article published before the first cutoff but imported after it is not lost:
    # it comes in the next edition, and what was sent is not sent again.
    add_articles(
        db,
        [article("late", ("Courts",), NOW - timedelta(hours=1))],
        imported=NOW + timedelta(hours=2),
    )
    later = NOW + timedelta(days=7)
    curator = _curator(db, settings, edition_window(settings, "weekly", later))
    second = curator.select((3,), to_db(NOW))
    assert second is not None
    assert second.article_ids == ("a-late",)


def test_curator_selects_once_per_group(tmp_path: Path) -> None:
    db = make_db(tmp_path / "t.db")
    settings = settings_for(tmp_path / "t.db")
    add_articles(
        db, [article("x", ("Courts",), NOW - timedelta(days=1))], imported=NOW - timedelta(days=1)
    )
    curator = _curator(db, settings, edition_window(settings, "weekly", NOW))
    rows = [RecipientRow(i, f"r{i}@example.com", "", "UTC", (3,), None) for i in range(50)]
    contents = {curator.content_for(r) for r in rows}
    assert len(contents) == 1
    assert curator.selections == 1
    assert category_names(db)[3][0] == "Courts"


def test_trimming_drops_pinned_articles_last() -> None:
    """An editor's pin leads its category even when it is the oldest article: trimming for
    Gmail's clipping limit takes the oldest unpinned ones first."""
    import dataclasses
    from datetime import UTC, datetime

    from digest.models import Article, DigestContent, Frequency, Section
    from digest.render.present import drop_oldest

    def dated(key: str, day: int) -> Article:
        return Article(key, f"https://e.com/{key}", key, datetime(2026, 11, day, tzinfo=UTC))

    content = DigestContent(
        site_name="S",
        frequency=Frequency.WEEKLY,
        starts_at=datetime(2026, 11, 1, tzinfo=UTC),
        ends_at=datetime(2026, 11, 28, tzinfo=UTC),
        sections=(Section("A", "a", (dated("old", 20), dated("new", 27), dated("mid", 24))),),
    )
    assert [a.id for a in drop_oldest(content, 1).sections[0].articles] == ["new", "mid"]
    pinned = dataclasses.replace(content, pinned=frozenset({"old"}))
    assert [a.id for a in drop_oldest(pinned, 1).sections[0].articles] == ["old", "new"]
    assert [a.id for a in drop_oldest(pinned, 2).sections[0].articles] == ["old"]
