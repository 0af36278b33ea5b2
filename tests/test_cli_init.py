from __future__ import annotations

import sqlite3
import tomllib
from pathlib import Path

from click.testing import CliRunner

from digest import __version__
from digest.cli import cli
from digest.config import Settings, config_text, load_settings, settings_from_dict


def test_init_writes_config_and_database_and_is_safe_to_repeat(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["init", "--sample"])
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[:2] == [
        "Config: digest.toml (written, with a new secret key)",
        "Database: subscribers.db",
    ]
    assert first.output.splitlines()[2].startswith("Sample data: 44 articles added, 25 subscribers")
    settings = load_settings()
    assert len(settings.secret_key) >= 40
    config_before = Path("digest.toml").read_text()

    second = runner.invoke(cli, ["init", "--sample"])
    assert second.exit_code == 0
    assert second.output.splitlines()[0] == "Config: digest.toml (exists, left as it is)"
    assert "Sample data: 0 articles added, 0 subscribers added (44 articles" in second.output
    assert Path("digest.toml").read_text() == config_before


def test_init_writes_the_generated_config_with_a_new_secret_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written = Path("digest.toml").read_text(encoding="utf-8")
    secret = load_settings().secret_key
    assert written == config_text(secret)
    assert settings_from_dict(tomllib.loads(written)) == Settings(secret_key=secret)
    # Another init in another folder draws another key.
    other = tmp_path / "other"
    other.mkdir()
    result = CliRunner().invoke(cli, ["--config", str(other / "digest.toml"), "init"])
    assert result.exit_code == 0, result.output
    assert load_settings(str(other / "digest.toml")).secret_key != secret


def test_version_and_help() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).output == f"digest, version {__version__}\n"
    assert "Quick start" in runner.invoke(cli, ["-h"]).output


def test_every_command_has_help_with_text() -> None:
    """Docs are tested: every command and group documents itself."""
    runner = CliRunner()

    def walk(group: object, path: list[str]) -> list[list[str]]:
        import click

        out = []
        assert isinstance(group, click.Group)
        for name, command in group.commands.items():
            out.append([*path, name])
            if isinstance(command, click.Group):
                out.extend(walk(command, [*path, name]))
        return out

    for path in walk(cli, []):
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert len(result.output.splitlines()) > 3, path


def test_database_that_is_not_sqlite(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("these are my notes, not a database\n" * 50)
    result = CliRunner().invoke(cli, ["--db", str(bad), "categories", "list"])
    assert result.exit_code == 1
    assert result.output == f"Error: {bad}: not a SQLite database (file is not a database)\n"


def test_locked_database_is_one_line(tmp_path: Path, monkeypatch: object) -> None:
    path = tmp_path / "s.db"
    assert CliRunner().invoke(cli, ["--db", str(path), "init"]).exit_code == 0
    assert (
        CliRunner().invoke(cli, ["--db", str(path), "categories", "add", "Courts"]).exit_code == 0
    )
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    config = tmp_path / "digest.toml"
    config.write_text("[database]\nbusy_timeout = 0.2\n")
    try:
        result = CliRunner().invoke(
            cli, ["--config", str(config), "--db", str(path), "categories", "add", "Opioids"]
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: database is locked")
    assert len(result.output.splitlines()) == 1


def test_a_number_out_of_range_is_one_line(tmp_path: Path) -> None:
    Path("digest.toml").write_text("[smtp]\ntimeout = 0\n")
    result = CliRunner().invoke(cli, ["categories", "list"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: digest.toml: smtp.timeout: expected a number greater than 0, got 0\n"
    )


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    Path("digest.toml").write_text("[smtp]\nurl = 5\n")
    result = CliRunner().invoke(cli, ["categories", "list"])
    assert result.exit_code == 1
    assert result.output == "Error: digest.toml: smtp.url: expected a string, got 5\n"


# -- no accidental databases (#12) ------------------------------------------------------------


def _no_db_message(path: Path, what: str) -> str:
    return f"Error: {path}: {what} (run `digest init` to create one, or pass --db)\n"


def test_commands_other_than_init_never_create_a_database(tmp_path: Path) -> None:
    """In a folder without `digest init`, nothing makes an empty subscribers.db."""
    path = tmp_path / "subscribers.db"
    for args in (
        ["send", "--dry-run"],
        ["subscribers", "list"],
        ["categories", "list"],
        ["schedule", "run"],
        ["serve", "--port", "0"],
    ):
        result = CliRunner().invoke(cli, args)
        assert (result.exit_code, result.output) == (
            1,
            _no_db_message(Path("subscribers.db"), "no database"),
        ), args
        assert not path.exists(), args
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "typo.db"), "send", "--dry-run"])
    assert result.output == _no_db_message(tmp_path / "typo.db", "no database")
    assert not (tmp_path / "typo.db").exists()


def test_an_empty_or_schemaless_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = CliRunner().invoke(cli, ["--db", str(empty), "send", "--dry-run"])
    assert (result.exit_code, result.output) == (
        1,
        _no_db_message(empty, "the database file is empty"),
    )
    assert empty.stat().st_size == 0
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    result = CliRunner().invoke(cli, ["--db", str(other), "subscribers", "list"])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {other}: not a digest database (no schema; run `digest init` to create "
        "one, or pass --db)\n",
    )
    assert other.read_bytes() == before


def test_init_creates_it_and_then_other_commands_work(tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0
    assert (tmp_path / "subscribers.db").stat().st_size > 0
    result = CliRunner().invoke(cli, ["send", "--dry-run"])
    assert result.exit_code == 0, result.output
