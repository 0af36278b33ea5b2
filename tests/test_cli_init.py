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
