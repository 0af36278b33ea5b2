"""m010_desk_edition_states on a database made before it: today's 'open' becomes 'sending',
'complete' becomes 'sent', deliveries survive the table's rebuild and still cascade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from digest.store import open_db
from digest.store.migrations import migrations


def test_existing_editions_keep_their_deliveries_and_map_their_states(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    migrations.apply(sqlite_utils.Database(conn), stop_before="m010_desk_edition_states")
    conn.execute(
        "INSERT INTO subscribers (id, email, email_hash, created_at) VALUES (1, 'a@x.org', 'h',"
        " '2026-01-01T00:00:00Z')"
    )
    for period, status in (("2026-W01", "complete"), ("2026-W02", "open"), ("2026-W03", "skipped")):
        conn.execute(
            "INSERT INTO editions (frequency, period, starts_at, ends_at, status, created_at)"
            " VALUES ('weekly', ?, '2026-01-01T00:00:00Z', '2026-01-08T00:00:00Z', ?,"
            " '2026-01-08T00:00:00Z')",
            [period, status],
        )
    conn.execute(
        "INSERT INTO deliveries (edition_id, subscriber_id, status, updated_at)"
        " VALUES (1, 1, 'sent', 'x'), (2, 1, 'pending', 'x')"
    )
    conn.close()

    db = open_db(path)
    assert db.execute("SELECT id, status, approval FROM editions ORDER BY id").fetchall() == [
        (1, "sent", "optional"),
        (2, "sending", "optional"),
        (3, "skipped", "optional"),
    ]
    assert db.execute("SELECT COUNT(*) FROM deliveries").fetchone() == (2,)
    assert db.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.execute("DELETE FROM editions WHERE id = 1")
    assert db.execute("SELECT edition_id FROM deliveries").fetchall() == [(2,)]
    db.close()
