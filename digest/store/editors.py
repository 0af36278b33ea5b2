"""Editors: who may use the desk, their password hash (argon2id, never leaves the core) and
the counters behind the login lockout."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import sqlite_utils

from digest.clock import from_db, to_db
from digest.models import Editor
from digest.store.connection import named

_COLUMNS = "id, email, name, created_at, password_set_at, last_login_at"


def _editor(row: sqlite3.Row) -> Editor:
    return Editor(
        id=int(row["id"]),
        email=str(row["email"]),
        name=str(row["name"]),
        created_at=from_db(row["created_at"]),
        password_set_at=from_db(row["password_set_at"]),
        last_login_at=from_db(row["last_login_at"]),
    )


def add_editor(
    db: sqlite_utils.Database, email: str, name: str, nonce: str, now: datetime
) -> Editor:
    """IntegrityError when the address is already an editor's."""
    cursor = db.execute(
        "INSERT INTO editors (email, name, password_nonce, created_at) VALUES (?, ?, ?, ?)",
        [email, name, nonce, to_db(now)],
    )
    found = get_editor(db, int(cursor.lastrowid or 0))
    assert found is not None
    return found


def get_editor(db: sqlite_utils.Database, editor_id: int) -> Editor | None:
    row = named(db, f"SELECT {_COLUMNS} FROM editors WHERE id = ?", [editor_id]).fetchone()
    return _editor(row) if row else None


def find_editor(db: sqlite_utils.Database, email: str) -> Editor | None:
    row = named(db, f"SELECT {_COLUMNS} FROM editors WHERE email = ?", [email]).fetchone()
    return _editor(row) if row else None


def list_editors(db: sqlite_utils.Database) -> list[Editor]:
    rows = named(db, f"SELECT {_COLUMNS} FROM editors ORDER BY email").fetchall()
    return [_editor(r) for r in rows]


def remove_editor(db: sqlite_utils.Database, editor_id: int) -> None:
    db.execute("DELETE FROM editors WHERE id = ?", [editor_id])


def set_nonce(db: sqlite_utils.Database, editor_id: int, nonce: str) -> None:
    db.execute("UPDATE editors SET password_nonce = ? WHERE id = ?", [nonce, editor_id])


def set_password(
    db: sqlite_utils.Database,
    editor_id: int,
    *,
    expected_nonce: str,
    new_nonce: str,
    password_hash: str,
    now: datetime,
) -> bool:
    """Set the hash if the link's nonce is still the editor's (single use); False if not."""
    cursor = db.execute(
        "UPDATE editors SET password_hash = ?, password_nonce = ?, password_set_at = ?,"
        " failed_logins = 0, locked_until = NULL WHERE id = ? AND password_nonce = ?"
        " AND password_nonce != ''",
        [password_hash, new_nonce, to_db(now), editor_id, expected_nonce],
    )
    return cursor.rowcount == 1


def nonce_of(db: sqlite_utils.Database, editor_id: int) -> str:
    row = db.execute("SELECT password_nonce FROM editors WHERE id = ?", [editor_id]).fetchone()
    return str(row[0]) if row else ""


def login_record(
    db: sqlite_utils.Database, email: str
) -> tuple[Editor, str, int, datetime | None] | None:
    """(editor, password hash, failed logins in a row, locked until) for a login attempt."""
    row = named(
        db,
        f"SELECT {_COLUMNS}, password_hash, failed_logins, locked_until FROM editors"
        " WHERE email = ?",
        [email],
    ).fetchone()
    if row is None:
        return None
    return (
        _editor(row),
        str(row["password_hash"]),
        int(row["failed_logins"]),
        from_db(row["locked_until"]),
    )


def record_login(
    db: sqlite_utils.Database,
    editor_id: int,
    *,
    ok: bool,
    now: datetime,
    lock_after: int,
    locked_until: datetime,
    new_hash: str | None = None,
) -> None:
    if ok:
        db.execute(
            "UPDATE editors SET failed_logins = 0, locked_until = NULL, last_login_at = ?,"
            " password_hash = COALESCE(?, password_hash) WHERE id = ?",
            [to_db(now), new_hash, editor_id],
        )
        return
    db.execute(
        "UPDATE editors SET failed_logins = failed_logins + 1,"
        " locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END"
        " WHERE id = ?",
        [lock_after, to_db(locked_until), editor_id],
    )
