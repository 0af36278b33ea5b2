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
        ("[sending]\nconcurrency = 0\n", "sending.concurrency: expected at least 1"),
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


def test_the_config_init_writes_is_valid_and_documents_every_section() -> None:
    import tomllib

    from digest.config import _SECTIONS, CONFIG_TEMPLATE, settings_from_dict

    text = CONFIG_TEMPLATE.format(secret_key="k")
    assert settings_from_dict(tomllib.loads(text)).secret_key == "k"
    # Every section is in the file, commented out or not, so an operator can find it.
    uncommented = text.replace("# [", "[")
    for section in _SECTIONS:
        assert f"[{section}]" in uncommented, section
    assert "[[feeds]]" in uncommented


def test_feed_refresh_must_be_positive(tmp_path: Path) -> None:
    path = write(tmp_path, '[[feeds]]\nurl = "https://x.example/feed"\nrefresh_minutes = 0\n')
    with pytest.raises(ConfigError, match=r"feeds\[0\]\.refresh_minutes: expected at least 1"):
        load_settings(path)
