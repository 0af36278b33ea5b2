from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import load_settings
from digest.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "digest.toml"
    path.write_text(text)
    return str(path)


def test_defaults_without_a_file() -> None:
    settings = load_settings()
    assert settings.config_path == ""
    assert settings.db_path == "subscribers.db"
    assert settings.smtp.parsed.port == 25
    assert settings.digest.max_articles_per_category == 5


def test_file_then_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        '[smtp]\nurl = "smtp+starttls://me:p%40ss@relay.example.com"\n'
        '[sender]\nfrom = "News <n@example.com>"\n',
    )
    settings = load_settings(path)
    url = settings.smtp.parsed
    assert (url.scheme, url.host, url.port, url.username, url.password) == (
        "smtp+starttls",
        "relay.example.com",
        587,
        "me",
        "p@ss",
    )
    assert settings.sender.from_ == "News <n@example.com>"
    monkeypatch.setenv("DIGEST_SMTP_URL", "smtps://other.example.com")
    monkeypatch.setenv("DIGEST_DB", "/tmp/x.db")
    monkeypatch.setenv("DIGEST_SECRET_KEY", "s3")
    settings = load_settings(path)
    assert settings.smtp.parsed.port == 465 and settings.smtp.parsed.implicit_tls
    assert settings.db_path == "/tmp/x.db" and settings.secret_key == "s3"
    assert load_settings(path, db="explicit.db").db_path == "explicit.db"


def test_password_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[smtp]\nurl = "smtp://u@h:2525"\npassword_env = "RELAY_PW"\n')
    monkeypatch.setenv("RELAY_PW", "secret")
    assert load_settings(path).smtp.parsed.password == "secret"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[site\nname = 1", "not valid TOML"),
        ("[sight]\nname = 'x'\n", "unknown section or key 'sight'"),
        ("[site]\nnmae = 'x'\n", "site.nmae: unknown key (known: accent_color, lang, name"),
        (
            "[sending]\nconcurrency = 'four'\n",
            "sending.concurrency: expected a whole number, got 'four'",
        ),
        ("[schedule]\ntimezone = 'Mars/Olympus'\n", "schedule.timezone: unknown IANA timezone"),
        ("[schedule]\nweekly_time = '25:00'\n", "schedule.weekly_time: expected HH:MM"),
        (
            "[smtp]\nurl = 'http://relay'\n",
            "smtp.url: expected smtp://, smtp+starttls:// or smtps://",
        ),
        ("[sending]\nconcurrency = 0\n", "sending.concurrency: expected at least 1, got 0"),
        ("[smtp]\ntimeout = 0\n", "smtp.timeout: expected a number greater than 0, got 0"),
        ("[web]\nport = 70000\n", "web.port: expected 1 to 65535, got 70000"),
        ("[smtp]\ntimeout = true\n", "smtp.timeout: expected a number, got True"),
        ("[sending]\nrate = '1'\n", "sending.rate: expected a number, got '1'"),
        ("[database]\npath = 5\n", "database.path: expected a string, got 5"),
        ("[database]\nfile = 'x.db'\n", "database.file: unknown key (known: busy_timeout, path)"),
        ("secret_key = 5\n", "secret_key: expected a string, got 5"),
        ("[sender]\nfrom_ = 'x'\n", "sender.from_: unknown key (known: from, list_id"),
        ("[[feeds]]\ncategory = 'Courts'\n", "feeds[0].url: missing; this key is required"),
        ("feeds = 'x'\n", "[[feeds]] must be an array of tables"),
        ("site = 'x'\n", "[site] must be a table"),
        ("[schedule]\nlocal_time = 'yes'\n", "schedule.local_time: expected true or false"),
    ],
)
def test_bad_config_names_file_key_and_expectation(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value).startswith(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(str(tmp_path / "nope.toml"))


def test_feed_refresh_must_be_positive(tmp_path: Path) -> None:
    path = write(tmp_path, '[[feeds]]\nurl = "https://x.example/feed"\nrefresh_minutes = 0\n')
    with pytest.raises(ConfigError, match=r"feeds\[0\]\.refresh_minutes: expected at least 1"):
        load_settings(path)


def test_database_path_from_the_file_then_environment_then_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[database]\npath = "from-file.db"\n')
    assert load_settings(path).db_path == "from-file.db"
    monkeypatch.setenv("DIGEST_DB", "from-env.db")
    assert load_settings(path).db_path == "from-env.db"
    assert load_settings(path, db="from-option.db").db_path == "from-option.db"


def test_numbers_are_read_as_their_declared_type(tmp_path: Path) -> None:
    path = write(tmp_path, "[smtp]\ntimeout = 5\n[sending]\nrate = 2\n")
    settings = load_settings(path)
    assert settings.smtp.timeout == 5.0 and isinstance(settings.smtp.timeout, float)
    assert isinstance(settings.sending.rate, float)
