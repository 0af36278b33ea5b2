"""The per-edition send lease: only one process sends an edition at a time.

A lease names its owner (host and pid) and is renewed by a heartbeat from the send loop; one
left by a killed process (dead pid, or no heartbeat for LOCK_STALE_AFTER) is taken over.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

import sqlite_utils

from digest.clock import from_db, to_db
from digest.errors import SendLockedError
from digest.store.connection import transaction

LOCK_STALE_AFTER = timedelta(seconds=90)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str, pid: int) -> bool:
    host = owner.rsplit(":", 1)[0]
    if host != socket.gethostname():
        return True  # another machine: trust the heartbeat alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire_send_lock(db: sqlite_utils.Database, edition_id: int, now: datetime) -> None:
    """Take the edition's lease, or raise SendLockedError if a live process holds it. A lease
    left by a killed process (dead pid, or no heartbeat for 90 s) is taken over."""
    with transaction(db):
        row = db.execute(
            "SELECT owner, pid, heartbeat_at FROM send_locks WHERE edition_id = ?", [edition_id]
        ).fetchone()
        if row and row[0] != _owner():
            heartbeat = from_db(row[2])
            fresh = heartbeat is not None and now - heartbeat < LOCK_STALE_AFTER
            if fresh and _alive(row[0], row[1]):
                raise SendLockedError(
                    f"edition {edition_id} is being sent by another process ({row[0]}, "
                    f"last seen {row[2]}); wait for it to finish, or stop it and run "
                    "`digest send` again to resume"
                )
        db.execute(
            "INSERT OR REPLACE INTO send_locks (edition_id, owner, pid, heartbeat_at)"
            " VALUES (?, ?, ?, ?)",
            [edition_id, _owner(), os.getpid(), to_db(now)],
        )


def heartbeat_send_lock(db: sqlite_utils.Database, edition_id: int, now: datetime) -> None:
    db.execute(
        "UPDATE send_locks SET heartbeat_at = ? WHERE edition_id = ? AND owner = ?",
        [to_db(now), edition_id, _owner()],
    )


def release_send_lock(db: sqlite_utils.Database, edition_id: int) -> None:
    db.execute("DELETE FROM send_locks WHERE edition_id = ? AND owner = ?", [edition_id, _owner()])
