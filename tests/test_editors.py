"""Editors: `digest editors add/list/link/remove` through click, the one-time link to set a
password (signed, expiring, single use), argon2id hashes, and the login lockout."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from digest.app import App, LoginRefused
from digest.cli import cli
from digest.config import Settings, SiteSettings
from digest.errors import InputError
from digest.tokens import ExpiredTokenError, TokenError
from tests.builders import NOW, app_for, make_db

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "subscribers.db"
    make_db(path).close()
    return path


def run(tmp_path: Path, db_path: Path, *args: str, secret: str = "k") -> Result:
    conf = tmp_path / "digest.toml"
    conf.write_text(
        (f'secret_key = "{secret}"\n' if secret else "")
        + '[site]\nurl = "https://news.example.com"\n'
    )
    return CliRunner().invoke(cli, ["--config", str(conf), "--db", str(db_path), *args])


def editors_rows(db_path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT * FROM editors ORDER BY id").fetchall()


def test_add_list_link_remove(tmp_path: Path, db_path: Path) -> None:
    added = run(tmp_path, db_path, "editors", "add", "Eve@Example.com", "--name", "Eve E")
    assert added.exit_code == 0, added.output
    lines = added.output.splitlines()
    assert lines[:2] == [
        "Added editor Eve@example.com (Eve E).",
        "Send them this link to set a password; it works once, until 2026-11-30 09:00 UTC:",
    ]
    assert lines[2].startswith("  https://news.example.com/admin/password/")
    listed = run(tmp_path, db_path, "editors", "list")
    assert listed.output == "Eve@example.com (Eve E): no password yet\n"
    new = run(tmp_path, db_path, "editors", "link", "eve@example.com")
    assert new.output.splitlines()[0] == "New link for editor Eve@example.com (Eve E)."
    assert new.output.splitlines()[2] != lines[2]
    removed = run(tmp_path, db_path, "editors", "remove", "eve@example.com")
    assert removed.output == "Removed editor Eve@example.com.\n"
    assert run(tmp_path, db_path, "editors", "list").output == (
        "No editors yet: `digest editors add EMAIL`.\n"
    )


@pytest.mark.parametrize(
    ("args", "error", "secret"),
    [
        (("add", "not-an-address"), "Error: 'not-an-address' is not a valid address", "k"),
        (("add", "a@example.com", "--name", "n" * 101), "Error: name: 101 characters", "k"),
        (("remove", "who@example.com"), "Error: no editor with address who@example.com", "k"),
        (("link", "who@example.com"), "Error: no editor with address who@example.com", "k"),
        (("add", "a@example.com"), "Error: secret_key is not set", ""),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    tmp_path: Path, db_path: Path, args: tuple[str, ...], error: str, secret: str
) -> None:
    result = run(tmp_path, db_path, "editors", *args, secret=secret)
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith(error), result.output
    assert editors_rows(db_path) == []


def test_adding_an_editor_twice_is_refused(tmp_path: Path, db_path: Path) -> None:
    run(tmp_path, db_path, "editors", "add", "eve@example.com")
    before = editors_rows(db_path)
    again = run(tmp_path, db_path, "editors", "add", "EVE@example.com")
    assert again.exit_code == 1
    assert again.output == (
        "Error: EVE@example.com is already an editor (`digest editors link EVE@example.com` "
        "makes a new link to set the password)\n"
    )
    assert editors_rows(db_path) == before


def _app(db_path: Path) -> App:
    db = make_db(db_path, ())
    settings = dataclasses.replace(
        Settings(),
        db_path=str(db_path),
        secret_key="k",
        site=SiteSettings(url="https://news.example.com"),
    )
    return app_for(db, settings)


def _token(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_the_link_sets_an_argon2id_hash_once(db_path: Path) -> None:
    app = _app(db_path)
    invite = app.add_editor("eve@example.com", "Eve")
    token = _token(invite.link)
    assert app.editor_for_link(token).email == "eve@example.com"
    with pytest.raises(InputError, match="at least 12 characters"):
        app.set_editor_password(token, "short")
    app.set_editor_password(token, PASSWORD)
    stored = editors_rows(db_path)[0]
    assert str(stored[3]).startswith("$argon2id$") and PASSWORD not in str(stored)
    with pytest.raises(TokenError, match="already used"):
        app.set_editor_password(token, "another long password")
    with pytest.raises(TokenError, match="not valid"):
        app.editor_for_link(token[:-2] + "xx")
    assert app.editor_login("EVE@example.com", PASSWORD).email == "eve@example.com"
    assert all("argon2" not in repr(e) for e in app.list_editors())


def test_the_link_expires(db_path: Path, frozen: time_machine.Traveller) -> None:
    app = _app(db_path)
    token = _token(app.add_editor("eve@example.com").link)
    frozen.shift(timedelta(hours=49))
    with pytest.raises(ExpiredTokenError):
        app.set_editor_password(token, PASSWORD)


def test_repeated_failures_lock_the_login(db_path: Path) -> None:
    app = _app(db_path)
    app.set_editor_password(_token(app.add_editor("eve@example.com").link), PASSWORD)
    with pytest.raises(LoginRefused, match=r"^wrong address or password$"):
        app.editor_login("nobody@example.com", PASSWORD)
    for _ in range(5):
        with pytest.raises(LoginRefused, match=r"^wrong address or password$"):
            app.editor_login("eve@example.com", "wrong password!")
    # Locked now, even with the right password, until the lock passes.
    with pytest.raises(LoginRefused, match="too many failed logins: try again after 09:15"):
        app.editor_login("eve@example.com", PASSWORD)
    later = App(app.settings, app.store, clock=lambda: NOW + timedelta(minutes=16))
    assert later.editor_login("eve@example.com", PASSWORD).email == "eve@example.com"
