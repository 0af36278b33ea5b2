"""The per-edition send lease: only one process sends an edition at a time, and a process
that lost its lease can change nothing.

A lease names its owner (host and pid), is renewed by a heartbeat from the send loop, and
carries a generation (a fencing token) that grows by one each time the lease is taken. One
left by a killed or paused process (dead pid, or no heartbeat for the stale time) is taken
over with a new generation; every write of the send loop is made conditional on its own
generation (:data:`HOLDS`), so the old holder, when it wakes, finds its writes refused and
stops (:class:`LeaseLost`).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

import sqlite_utils

from digest.clock import from_db, to_db
from digest.errors import LeaseLostError, SendLockedError
from digest.store.connection import transaction

LOCK_STALE_AFTER = timedelta(seconds=90)
# Appended to a write's WHERE clause with (edition_id, generation) as its last two
# parameters: the write happens only while that generation holds the edition's lease.
HOLDS = (
    "EXISTS (SELECT 1 FROM send_locks l WHERE l.edition_id = ? AND l.generation = ?"
    " AND l.owner != '')"
)


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


def acquire_send_lock(
    db: sqlite_utils.Database,
    edition_id: int,
    now: datetime,
    *,
    stale_after: timedelta = LOCK_STALE_AFTER,
) -> int:
    """Take the edition's lease and return its new generation, or raise SendLockedError if
    a live process holds it. A lease left by a killed process (dead pid) or not renewed for
    ``stale_after`` (killed, or paused) is taken over."""
    with transaction(db):
        row = db.execute(
            "SELECT owner, pid, heartbeat_at, generation FROM send_locks WHERE edition_id = ?",
            [edition_id],
        ).fetchone()
        if row and row[0]:
            heartbeat = from_db(row[2])
            fresh = heartbeat is not None and now - heartbeat < stale_after
            if fresh and _alive(row[0], row[1]):
                raise SendLockedError(
                    f"edition {edition_id} is being sent by another process ({row[0]}, "
                    f"last seen {row[2]}); wait for it to finish, or stop it and run "
                    "`digest send` again to resume"
                )
        generation = (int(row[3]) if row else 0) + 1
        db.execute(
            "INSERT OR REPLACE INTO send_locks (edition_id, owner, pid, heartbeat_at, generation)"
            " VALUES (?, ?, ?, ?, ?)",
            [edition_id, _owner(), os.getpid(), to_db(now), generation],
        )
    return generation


def heartbeat_send_lock(
    db: sqlite_utils.Database, edition_id: int, generation: int, now: datetime
) -> None:
    """Renew the lease; LeaseLostError when another process took it over meanwhile."""
    cursor = db.execute(
        "UPDATE send_locks SET heartbeat_at = ? WHERE edition_id = ? AND generation = ?"
        " AND owner != ''",
        [to_db(now), edition_id, generation],
    )
    if cursor.rowcount == 0:
        raise lease_lost(edition_id)


def check_send_lock(db: sqlite_utils.Database, edition_id: int, generation: int) -> None:
    """LeaseLostError unless ``generation`` still holds the edition's lease."""
    row = db.execute(f"SELECT {HOLDS}", [edition_id, generation]).fetchone()
    if not row[0]:
        raise lease_lost(edition_id)


def release_send_lock(db: sqlite_utils.Database, edition_id: int, generation: int) -> None:
    """Give the lease up (only if still ours); the row and its generation stay."""
    db.execute(
        "UPDATE send_locks SET owner = '', pid = 0 WHERE edition_id = ? AND generation = ?",
        [edition_id, generation],
    )


def lease_lost(edition_id: int) -> LeaseLostError:
    return LeaseLostError(
        f"edition {edition_id}: another `digest send` took the edition over while this one "
        "was paused or stalled past its lease; this one stopped before sending more (the "
        "other finishes the edition; messages in flight at the pause may arrive twice)"
    )
