"""The declaration of the settings is the one source: every key has help, every limit is
enforced, and the commented digest.toml and the README's table say the same as it does."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from digest.config import FeedSettings, Settings, config_text, load_settings, settings_from_dict
from digest.config.docs import END, START, main, marked_section, replace_table, settings_table
from digest.config.layout import Key, all_keys, tables
from digest.config.schema import RelaySettings, SmtpSettings, setting
from digest.config.toml import toml_value
from digest.errors import ConfigError

README = Path(__file__).resolve().parents[1] / "README.md"
KEYS = list(all_keys())


def test_every_key_has_one_line_of_help() -> None:
    for key in KEYS:
        assert key.about.help.strip(), key.dotted
        assert "\n" not in key.about.help, key.dotted
        assert key.about.help.endswith("."), key.dotted
    for table in tables()[1:]:
        # A dataclass without a docstring gets one made up from its signature.
        assert table.help and not table.help.startswith(f"{table.cls and table.cls.__name__}(")


def test_a_key_without_help_is_refused() -> None:
    from digest.config.layout import _table

    @dataclasses.dataclass(frozen=True)
    class Undocumented:
        documented: int = setting(1, "Has help.")
        bare: int = 2

    with pytest.raises(TypeError, match=r"Undocumented\.bare has no help text"):
        _table("undocumented", Undocumented)


def test_every_field_of_settings_is_a_key_of_the_file() -> None:
    in_file = {t.name for t in tables() if t.cls} | {k.attr for k in tables()[0].keys}
    in_file |= {k.attr for t in tables() if t.name and t.cls is None for k in t.keys}
    # config_path records where the settings came from; it is not a setting.
    assert {f.name for f in dataclasses.fields(Settings)} - in_file == {"config_path"}


# The limits the program relies on; a new limited setting must be added here on purpose.
LIMITS = {
    "smtp.timeout": "a number greater than 0",
    "smtp.failures_before_backoff": "at least 1",
    "smtp.backoff_seconds": "at least 0",
    "digest.max_articles_per_category": "at least 1",
    "digest.lookback_days_weekly": "at least 1",
    "digest.lookback_days_daily": "at least 1",
    "schedule.max_delay_hours": "at least 0",
    "schedule.prepare_hours_before": "at least 0",
    "sending.concurrency": "at least 1",
    "sending.rate": "at least 0",
    "sending.hourly_limit": "at least 0",
    "sending.max_attempts": "at least 1",
    "sending.max_consecutive_failures": "at least 1",
    "sending.page_size": "at least 1",
    "sending.lease_seconds": "a number greater than 0",
    "sending.database_wait_seconds": "at least 0",
    "database.busy_timeout": "a number greater than 0",
    "web.port": "1 to 65535",
    "web.signup_limit_per_ip_per_hour": "at least 1",
    "web.signup_limit_per_address_per_day": "at least 1",
    "web.api_rate_limit_per_minute": "at least 1",
    "bounces.soft_limit": "at least 1",
    "bounces.soft_window_days": "at least 1",
    "bounces.fetch_minutes": "at least 1",
    "smtp.relays.weight": "at least 1",
    "smtp.relays.rate": "at least 0",
    "smtp.relays.hourly_limit": "at least 0",
    "smtp.relays.concurrency": "at least 0",
    "feeds.refresh_minutes": "at least 1",
}
# Arrays of tables, and a url each entry needs.
ARRAYS = {"feeds": "https://x.example/feed", "smtp.relays": "smtp://relay.example:25"}


def test_the_declared_limits() -> None:
    declared = {k.dotted: k.about.limit.describe() for k in KEYS if k.about.limit}
    assert declared == LIMITS


def out_of_range(key: Key) -> list[int]:
    limit = key.about.limit
    assert limit is not None
    low = int(limit.low)
    values = [low, low - 5] if limit.exclusive else [low - 1, low - 10]
    return [*values, int(limit.high) + 1] if limit.high is not None else values


@pytest.mark.parametrize(
    ("key", "bad"),
    [(k, bad) for k in KEYS if k.about.limit for bad in out_of_range(k)],
    ids=lambda v: v.dotted if isinstance(v, Key) else str(v),
)
def test_a_number_out_of_range_is_one_line_naming_file_and_key(
    tmp_path: Path, key: Key, bad: int
) -> None:
    path = tmp_path / "digest.toml"
    if key.table in ARRAYS:
        url = ARRAYS[key.table]
        path.write_text(f'[[{key.table}]]\nurl = "{url}"\n{key.name} = {bad}\n')
        where = f"{key.table}[0].{key.name}"
    else:
        path.write_text(f"[{key.table}]\n{key.name} = {bad}\n")
        where = key.dotted
    assert key.about.limit is not None
    with pytest.raises(ConfigError) as info:
        load_settings(str(path))
    assert str(info.value) == f"{path}: {where}: expected {key.about.limit.describe()}, got {bad}"


def test_the_lowest_allowed_number_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "digest.toml"
    path.write_text(
        "[smtp]\ntimeout = 0.1\n[sending]\nrate = 0\nconcurrency = 1\n[web]\nport = 65535\n"
        "[digest]\nlookback_days_weekly = 1\n[schedule]\nmax_delay_hours = 0\n"
    )
    settings = load_settings(str(path))
    assert (settings.smtp.timeout, settings.web.port, settings.digest.lookback_days_weekly) == (
        0.1,
        65535,
        1,
    )


def parsed_file(text: str) -> dict[str, str]:
    """table.key -> the comment just above it, for every key line, commented out or not,
    under the table it sits in; a table's own comment under [table]."""
    table, comment, found = "", list[str](), {}
    for line in text.splitlines():
        header = re.fullmatch(r"(?:# )?\[\[?([a-z_.]+)\]\]?", line)
        key = re.match(r"(?:# )?([a-z0-9_]+) = ", line)
        if header:
            table = header[1]
            found[f"[{table}]"] = " ".join(comment)
        elif key:
            found[f"{table}.{key[1]}" if table else key[1]] = " ".join(comment)
        elif line.startswith("# "):
            comment.append(line[2:])
            continue
        comment = []
    return found


def test_the_generated_file_has_every_key_in_its_table_under_its_help() -> None:
    found = parsed_file(config_text("k"))
    expected = {f"[{t.name}]": t.help for t in tables()[1:]}
    expected |= {k.dotted: k.doc for k in KEYS}
    assert found == expected
    assert list(found) == list(parsed_file(config_text("other")))


def test_the_generated_file_shows_what_an_operator_must_look_at() -> None:
    text = config_text("k")
    assert 'secret_key = "k"' in text.splitlines()
    for line in ('url = "https://news.example.com"', "concurrency = 4", "[database]"):
        assert line in text.splitlines()
    for line in ("# timeout = 30.0", "# page_size = 1000", '# path = "subscribers.db"'):
        assert line in text.splitlines()
    assert "bounces+{token}@news.example.com" in text
    # A [[feeds]] entry needs a url: the whole example is commented out.
    assert "# [[feeds]]" in text.splitlines() and "[[feeds]]" not in text.splitlines()


def test_the_generated_file_loads_back_to_the_defaults() -> None:
    text = config_text("k")
    assert settings_from_dict(tomllib.loads(text)) == Settings(secret_key="k")
    assert max(len(line) for line in text.splitlines() if line.startswith("#")) <= 99


def test_uncommenting_every_key_changes_nothing() -> None:
    text = re.sub(r"(?m)^# (\[\[[a-z_.]+\]\]$|[a-z0-9_]+ = )", r"\1", config_text("k"))
    example = next(k for k in KEYS if k.dotted == "feeds.url").about.example
    relay = next(k for k in KEYS if k.dotted == "smtp.relays.url").about.example
    assert settings_from_dict(tomllib.loads(text)) == Settings(
        secret_key="k",
        feeds=(FeedSettings(url=example),),
        smtp=SmtpSettings(relays=(RelaySettings(url=relay),)),
    )


def test_the_secret_key_is_written_as_a_toml_string() -> None:
    text = config_text('a"b\\c')
    assert settings_from_dict(tomllib.loads(text)).secret_key == 'a"b\\c'


@pytest.mark.parametrize(
    "value",
    ['quote " backslash \\ ', "line\nbreak\ttab\r", "\x00\x1f\x7f", "Núñez 😀 \u2028", ""],
)
def test_strings_are_written_as_valid_toml(value: str) -> None:
    line = f"key = {toml_value(value)}"
    assert "\n" not in line
    assert tomllib.loads(line)["key"] == value


def test_numbers_and_booleans_are_written_as_valid_toml() -> None:
    for value in (0, -3, 30.0, 0.5, True, False):
        assert tomllib.loads(f"key = {toml_value(value)}")["key"] == value


def test_the_readme_table_is_the_generated_one() -> None:
    """Regenerate with: python -m digest.config --write README.md"""
    readme = README.read_text(encoding="utf-8")
    assert readme.count(START) == 1 and readme.count(END) == 1
    assert marked_section(readme) == settings_table()


def test_the_table_has_a_row_for_every_key() -> None:
    table = settings_table()
    for key in KEYS:
        name = f"{key.table}[].{key.name}" if key.table in ARRAYS else key.dotted
        assert f"| `{name}` |" in table, key.dotted


def test_the_table_escapes_pipes() -> None:
    from digest.config.docs import _row

    assert _row("a|b", "c") == "| a\\|b | c |"


def test_write_replaces_only_the_marked_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nintro\n\n{START}\nstale\n{END}\n\n## After\n")
    assert main(["--write", str(readme)]) == 0
    text = readme.read_text()
    assert text == f"# Title\n\nintro\n\n{START}\n{settings_table()}{END}\n\n## After\n"
    assert replace_table(text) == text
    assert main([]) == 0
    assert capsys.readouterr().out == settings_table()


def test_write_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="settings:start"):
        replace_table("# no markers here\n")
