"""digest.validate and the audience use cases of digest.app.App: validation, add, CSV
import/export, unsubscribe, forget."""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils
from email_validator import EmailNotValidError, validate_email

from digest.app import App, ImportResult
from digest.errors import InputError, NotFoundError
from digest.store import open_db
from digest.store import subscribers as store
from digest.store.categories import ensure_category
from digest.validate import normalise_email, validate_frequency, validate_name, validate_timezone
from tests.builders import app_for

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures" / "subscribers"
CATEGORIES = ("Opioid Drugs", "Consumer Safety", "Courts")
KNOWN = "known: Opioid Drugs, Consumer Safety, Courts"


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    database = open_db(tmp_path / "test.db")
    for name in CATEGORIES:
        ensure_category(database, name)
    return database


def app(db: sqlite_utils.Database) -> App:
    return app_for(db, clock=lambda: NOW)


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# Validation


def test_normalise_email_lowercases_the_domain_only() -> None:
    assert normalise_email("  Ana.Lima@Example.COM ") == "Ana.Lima@example.com"
    assert normalise_email("zoë@EXÄMPLE.org") == "zoë@exämple.org"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("bob@", "There must be something after the @-sign"),
        (
            "a b@example.com",
            "The email address contains invalid characters before the @-sign: SPACE",
        ),
        ("x@localhost", "The part after the @-sign is not valid. It should have a period"),
        (
            "x@host.test",
            "The part after the @-sign is a special-use or reserved name "
            "that cannot be used with email",
        ),
    ],
)
def test_normalise_email_rejects_with_email_validators_reason(value: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        normalise_email(value)
    assert str(info.value) == f"{value!r} is not a valid address ({reason})"


@pytest.mark.parametrize(
    "value",
    [
        "plain@example.com",
        "Mixed.Case+tag@Sub.Example.ORG",
        "o'brien@example.co.uk",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a@-example.com",
        "a@example-.com",
        "a@xn--bcher-kva.example",
        "a@example.c",
        "a@example.123",
        "a@b--c.example.com",
        "x" * 65 + "@example.com",
        "a@" + "b" * 64 + ".com",
        "a@example.onion",
        "a@example.local",
        "{weird}@example.com",
    ],
)
def test_fast_path_agrees_with_email_validator(value: str) -> None:
    try:
        expected: str | None = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    try:
        got: str | None = normalise_email(value)
    except InputError:
        got = None
    assert got == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "Ana\r\nBcc: x@example.com",
            "'Ana\\r\\nBcc: x@example.com' contains a line break ('\\r')",
        ),
        ("Ana\u2028Lima", "'Ana\\u2028Lima' contains a line break ('\\u2028')"),
        ("Ana\x00", "'Ana\\x00' contains a control character ('\\x00')"),
        ("x" * 81, "81 characters is too long (at most 80)"),
        (
            "Pay at https://x.example",
            "'Pay at https://x.example' contains a web address ('https://'); a name cannot "
            "hold links",
        ),
        ("www.example", "'www.example' contains a web address ('www.'); a name cannot hold links"),
        (
            "mailto:a@b",
            "'mailto:a@b' contains a web address ('mailto:a@'); a name cannot hold links",
        ),
        (
            "evil.example",
            "'evil.example' contains a web address ('evil.example'); a name cannot hold links",
        ),
        # Fullwidth letters and an ideographic full stop: what a browser would still open.
        (
            "ｅｖｉｌ。ｃｏｍ",
            "'ｅｖｉｌ。ｃｏｍ' contains a web address ('evil。com'); a name cannot hold links",
        ),
        (
            "ann@bank.example",
            "'ann@bank.example' contains a web address ('bank.example'); a name cannot hold links",
        ),
    ],
)
def test_validate_name_rejects_header_breakers(value: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        validate_name(value)
    assert str(info.value) == message


def test_validators_accept_good_values() -> None:
    assert validate_name('  Smith, Jones & "Partners" 田中 ') == 'Smith, Jones & "Partners" 田中'
    for name in ("J.R.R. Tolkien", "Dr. Ann O'Neil-Smith", "St. John", "José María", "No.5"):
        assert validate_name(name) == name
    assert validate_name("N" * 80) == "N" * 80
    assert validate_timezone("Asia/Kathmandu") == "Asia/Kathmandu"
    assert validate_frequency(" Daily ") == "daily"
    with pytest.raises(InputError, match="'Mars/Olympus' is not an IANA timezone name"):
        validate_timezone("Mars/Olympus")
    with pytest.raises(InputError, match="'monthly' is not weekly or daily"):
        validate_frequency("monthly")


# add_subscriber


def test_add_new_subscriber_with_case_insensitive_categories(db: sqlite_utils.Database) -> None:
    result = app(db).add_subscriber(
        "Ana@Example.com",
        ["courts", "OPIOID drugs"],
        name="Ana",
        frequency="daily",
        timezone="America/St_Johns",
    )
    assert result.created
    s = result.subscriber
    assert (s.email, s.name, s.status, s.frequency, s.timezone, s.categories, s.source) == (
        "Ana@example.com",
        "Ana",
        "active",
        "daily",
        "America/St_Johns",
        ("Courts", "Opioid Drugs"),
        "cli",
    )


def test_add_unknown_category_lists_the_known_ones(db: sqlite_utils.Database) -> None:
    with pytest.raises(NotFoundError) as info:
        app(db).add_subscriber("ana@example.com", ["Astrology"])
    assert str(info.value) == f"unknown category 'Astrology' ({KNOWN})"
    assert list(app(db).list_subscribers()) == []


def test_add_rejects_bad_input_naming_the_field(db: sqlite_utils.Database) -> None:
    with pytest.raises(InputError, match=r"^email: 'bob@' is not a valid address \(There"):
        app(db).add_subscriber("bob@", ["Courts"])
    with pytest.raises(InputError, match=r"^timezone: 'Europe/Londn' is not an IANA"):
        app(db).add_subscriber("bob@example.com", ["Courts"], timezone="Europe/Londn")
    with pytest.raises(InputError, match=r"^at least one category is needed$"):
        app(db).add_subscriber("bob@example.com", [])


def test_add_existing_updates_only_what_is_given(db: sqlite_utils.Database) -> None:
    app(db).add_subscriber("ana@example.com", ["Courts"], name="Ana", timezone="Asia/Tokyo")
    again = app(db).add_subscriber("ANA@example.com", ["Courts"])
    assert (again.created, again.changed) == (False, True)  # the address's case changed
    same = app(db).add_subscriber("ANA@example.com", ["courts"])
    assert (same.created, same.changed) == (False, False)
    result = app(db).add_subscriber("ana@example.com", ["Consumer Safety", "Courts"])
    s = result.subscriber
    assert (s.email, s.name, s.timezone, s.categories) == (
        "ana@example.com",
        "Ana",
        "Asia/Tokyo",
        ("Consumer Safety", "Courts"),
    )
    assert [e.kind for e in store.events_for(db, s.id)] == ["subscribed", "updated", "updated"]


def test_suppressed_address_is_not_silently_reactivated(db: sqlite_utils.Database) -> None:
    app(db).add_subscriber("ana@example.com", ["Courts"])
    assert app(db).unsubscribe("Ana@example.com")
    assert not app(db).unsubscribe("ana@example.com")  # already unsubscribed
    with pytest.raises(InputError) as info:
        app(db).add_subscriber("ana@example.com", ["Courts"])
    assert str(info.value) == (
        "ana@example.com is unsubscribed: not re-subscribed "
        "(pass reactivate to subscribe it again, with their consent)"
    )
    result = app(db).add_subscriber("ana@example.com", ["Courts"], reactivate=True)
    assert (result.reactivated, result.subscriber.status) == (True, "active")
    kinds = [(e.kind, e.detail) for e in store.events_for(db, result.subscriber.id)]
    assert kinds == [("subscribed", ""), ("unsubscribed", ""), ("subscribed", "reactivated")]


def test_forget_then_re_add_is_refused(db: sqlite_utils.Database) -> None:
    app(db).add_subscriber("ana@example.com", ["Courts"], name="Ana")
    app(db).forget("ana@example.com")
    assert db.execute("SELECT email, name, status FROM subscribers").fetchall() == [
        (None, "", "forgotten")
    ]
    with pytest.raises(InputError, match=r"^Ana@example\.com is forgotten: not re-subscribed"):
        app(db).add_subscriber("Ana@Example.com", ["Courts"])
    app(db).forget("ana@example.com")  # twice is harmless
    with pytest.raises(NotFoundError, match=r"^no subscriber nobody@example\.com$"):
        app(db).find_subscriber("nobody@example.com")


# import_subscribers_csv


def test_import_bad_rows_reports_physical_line_numbers(db: sqlite_utils.Database) -> None:
    result = app(db).import_subscribers(FIXTURES / "bad_rows.csv")
    assert result == ImportResult(
        added=2,
        rejected=(
            (4, "email: 'bob@' is not a valid address (There must be something after the @-sign)"),
            (5, "name: 'Carol\\nSmith' contains a line break ('\\n')"),
            (7, f"categories: unknown category 'Astrology' ({KNOWN})"),
            (8, "frequency: 'monthly' is not weekly or daily"),
            (9, "timezone: 'Mars/Olympus' is not an IANA timezone name (such as 'Europe/London')"),
        ),
    )
    assert [(s.email, s.categories) for s in app(db).list_subscribers()] == [
        ("ana@example.com", ("Courts", "Consumer Safety")),
        ("gus@example.com", ("Courts",)),
    ]


def test_import_strict_writes_nothing(db: sqlite_utils.Database) -> None:
    result = app(db).import_subscribers(FIXTURES / "bad_rows.csv", strict=True)
    assert (result.written, result.added, len(result.rejected)) == (False, 0, 5)
    assert db.execute("SELECT COUNT(*) FROM subscribers").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)


def test_import_keeps_unicode_commas_quotes_and_header_case(db: sqlite_utils.Database) -> None:
    result = app(db).import_subscribers(FIXTURES / "good.csv")
    assert result == ImportResult(added=4)
    rows = [
        (s.email, s.name, s.categories, s.frequency, s.timezone) for s in app(db).list_subscribers()
    ]
    assert rows == [
        ("jose@example.org", "José Álvarez", ("Courts", "Opioid Drugs"), "weekly", "Europe/Madrid"),
        (
            "fay@example.com",
            'Fay "the judge", Esq.',
            ("Opioid Drugs", "Courts"),
            "daily",
            "America/St_Johns",
        ),
        ("tanaka@example.com", "田中", ("Consumer Safety",), "weekly", "Asia/Tokyo"),
        ("zoe@example.org", "Zoë", ("Courts",), "weekly", "UTC"),
    ]
    events = db.execute("SELECT kind, source, at FROM events ORDER BY id").fetchall()
    assert events == [("subscribed", "import", "2026-11-28T10:00:00Z")] * 4


def test_import_duplicates_last_row_wins_and_db_rows_update(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    app(db).add_subscriber("old@example.com", ["Courts"], name="Old", timezone="Asia/Tokyo")
    app(db).add_subscriber("same@example.com", ["Courts"], name="Same")
    path = write(
        tmp_path,
        "email,name,categories\n"
        "dup@example.com,First,Courts\n"
        "OLD@example.com,,Opioid Drugs;Courts\n"
        "same@example.com,Same,Courts\n"
        "Dup@Example.com,Second,Opioid Drugs\n"
        "dup@example.com,Third,Consumer Safety\n",
    )
    result = app(db).import_subscribers(path)
    assert result == ImportResult(added=1, updated=1, unchanged=1, duplicates=((2, 6), (5, 6)))
    old = app(db).find_subscriber("old@example.com")
    assert (old.email, old.name, old.timezone, old.categories) == (
        "OLD@example.com",
        "Old",
        "Asia/Tokyo",
        ("Opioid Drugs", "Courts"),
    )
    dup = app(db).find_subscriber("dup@example.com")
    assert (dup.name, dup.categories) == ("Third", ("Consumer Safety",))
    assert [e.kind for e in store.events_for(db, old.id)] == ["subscribed", "updated"]


def test_import_reports_suppressed_and_never_reactivates(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    app(db).add_subscriber("gone@example.com", ["Courts"])
    app(db).unsubscribe("gone@example.com")
    app(db).add_subscriber("erased@example.com", ["Courts"])
    app(db).forget("erased@example.com")
    path = write(
        tmp_path,
        "email,categories,status\n"
        "gone@example.com,Courts,\n"
        "Erased@example.com,Courts,active\n"
        "bounced@example.com,Courts,bounced\n"
        "new@example.com,,\n"
        "wait@example.com,Courts,pending\n"
        "odd@example.com,Courts,sleeping\n",
    )
    result = app(db).import_subscribers(path)
    assert result == ImportResult(
        added=1,
        suppressed=((2, "gone@example.com"), (3, "Erased@example.com"), (4, "bounced@example.com")),
        rejected=(
            (5, "categories: a new subscriber needs at least one category"),
            (
                7,
                "status: 'sleeping' is not one of pending, active, unsubscribed, bounced, "
                "complained, forgotten",
            ),
        ),
    )
    statuses = db.execute("SELECT email, status FROM subscribers ORDER BY id").fetchall()
    assert statuses == [
        ("gone@example.com", "unsubscribed"),
        (None, "forgotten"),
        ("wait@example.com", "pending"),
    ]


def test_import_active_row_confirms_a_pending_subscriber(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    store.insert_subscriber(db, store.NewSubscriber(email="p@example.com", status="pending"), NOW)
    result = app(db).import_subscribers(write(tmp_path, "email,categories\np@example.com,Courts\n"))
    assert result == ImportResult(updated=1)
    p = app(db).find_subscriber("p@example.com")
    assert (p.status, p.confirmed_at, p.categories) == ("active", NOW, ("Courts",))
    assert [e.kind for e in store.events_for(db, p.id)] == ["pending", "confirmed", "updated"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file (expected a header row with an 'email' column)"),
        (
            b"name,categories\nAna,Courts\n",
            "no 'email' column in the header (found: name, categories)",
        ),
        (b"email\n\xff\xfe@example.com\n", "not UTF-8 text (byte 6); save the file as UTF-8 CSV"),
    ],
)
def test_import_file_errors_are_one_line(
    db: sqlite_utils.Database, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        app(db).import_subscribers(path)
    assert str(info.value) == f"{path}: {message}"
    with pytest.raises(InputError, match=r"missing\.csv: file not found$"):
        app(db).import_subscribers(tmp_path / "missing.csv")


def test_import_accepts_a_byte_order_mark_and_blank_lines(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("\ufeffEMAIL,categories\n\na@example.com,Courts\n".encode())
    assert app(db).import_subscribers(path) == ImportResult(added=1)


def test_export_import_round_trip_is_unchanged(db: sqlite_utils.Database, tmp_path: Path) -> None:
    app(db).import_subscribers(FIXTURES / "good.csv")
    app(db).add_subscriber("left@example.com", ["Courts"])
    app(db).unsubscribe("left@example.com")
    out = io.StringIO()
    assert app(db).export_subscribers(out) == 5
    exported = out.getvalue()
    assert exported.splitlines()[:3] == [
        "email,name,categories,frequency,timezone,status,language,delivery_day",
        "jose@example.org,José Álvarez,Courts;Opioid Drugs,weekly,Europe/Madrid,active,,",
        'fay@example.com,"Fay ""the judge"", Esq.",Opioid Drugs;Courts,daily,America/St_Johns,'
        "active,,",
    ]
    path = write(tmp_path, exported, "export.csv")
    assert app(db).import_subscribers(path) == ImportResult(
        unchanged=4, suppressed=((6, "left@example.com"),)
    )
    # Into an empty database: the same subscribers, and the unsubscribed one stays out.
    fresh = open_db(tmp_path / "fresh.db")
    for name in CATEGORIES:
        ensure_category(fresh, name)
    assert app(fresh).import_subscribers(path).added == 4
    again = io.StringIO()
    app(fresh).export_subscribers(again)
    assert again.getvalue() == "".join(
        line for line in exported.splitlines(keepends=True) if "left@" not in line
    )


def test_export_json(db: sqlite_utils.Database) -> None:
    app(db).add_subscriber("zoe@example.org", ["Courts", "Opioid Drugs"], name="Zoë")
    out = io.StringIO()
    app(db).export_subscribers(out, "json")
    assert json.loads(out.getvalue()) == [
        {
            "email": "zoe@example.org",
            "name": "Zoë",
            "categories": "Courts;Opioid Drugs",
            "frequency": "weekly",
            "timezone": "UTC",
            "status": "active",
            "language": "",
            "delivery_day": "",
        }
    ]
    empty = io.StringIO()
    app(open_db(":memory:")).export_subscribers(empty, "json")
    assert json.loads(empty.getvalue()) == []


def test_sample_file_imports_cleanly(tmp_path: Path) -> None:
    db = open_db(tmp_path / "sample.db")
    for name in (
        "Opioid Drugs",
        "Consumer Safety",
        "Courts",
        "Product Liability",
        "Medical Malpractice",
        "Employment Law",
        "Environmental Law",
    ):
        ensure_category(db, name)
    sample = Path(__file__).parent.parent / "digest" / "sample" / "subscribers.csv"
    copy = tmp_path / "subscribers.csv"
    shutil.copy(sample, copy)
    result = app(db).import_subscribers(copy, source="sample")
    assert (result.added, result.rejected, result.duplicates) == (25, (), ())
    assert {s.frequency for s in app(db).list_subscribers()} == {"weekly", "daily"}


def test_import_takes_a_weekly_day(db: sqlite_utils.Database, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,categories,delivery_day\n"
        "ana@example.com,Courts,thu\n"
        "bo@example.com,Courts,Sunday\n"
        "cy@example.com,Courts,\n"
        "di@example.com,Courts,someday\n",
    )
    result = app(db).import_subscribers(path)
    assert result == ImportResult(
        added=3,
        rejected=(
            (
                5,
                "delivery_day: 'someday' is not a day of the week "
                "(mon, tue, wed, thu, fri, sat, sun)",
            ),
        ),
    )
    days = {s.email: s.delivery_day for s in app(db).list_subscribers()}
    assert days == {"ana@example.com": "thu", "bo@example.com": "sun", "cy@example.com": ""}
    # An empty cell keeps the day; a new one changes it.
    again = write(tmp_path, "email,delivery_day\nana@example.com,\nbo@example.com,mon\n", "b.csv")
    assert app(db).import_subscribers(again) == ImportResult(updated=1, unchanged=1)
    days = {s.email: s.delivery_day for s in app(db).list_subscribers()}
    assert (days["ana@example.com"], days["bo@example.com"]) == ("thu", "mon")
